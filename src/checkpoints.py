"""Checkpoints that resume: `last.ckpt` is the last epoch, and a resumed fit is the same fit.

Lightning's `ModelCheckpoint(save_last=True)` rewrites `last.ckpt` only when a top-k
checkpoint is saved, so with `monitor=val/f1` it holds the best epoch, not the last, and a
resume replays the epochs after the best with early stopping's counter at zero. Lightning
also leaves out the random state (the shuffling generators, the global torch RNG), so a
resumed fit draws other batches than the uninterrupted one. `ResumableCheckpoint` fixes
both: it writes `last.ckpt` after every epoch, carries the random state and the "stop"
decision of early stopping in its own checkpoint entry, and puts them back before the first
resumed epoch draws its batches. A resumed fit then ends with the same weights and metrics as
an uninterrupted one (same machine, same thread count; see README "Reproducibility").

`resume_path` checks a `last.ckpt` before Lightning reads it, so a truncated or foreign file
fails with one message that names it and says what to do.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint to resume from cannot be read; the message names it and the way out."""


def resume_path(last: Path) -> str | None:
    """`last` as a `ckpt_path` for `Trainer.fit` when it exists and is readable, else None.

    Raises CheckpointError for a file that exists but is not a Lightning checkpoint
    (truncated by a crash mid-write, overwritten, a text file): resuming from it is
    impossible, and the fix is the user's choice, not ours to make silently.
    """
    last = Path(last)
    if not last.is_file():
        return None
    try:
        ckpt = torch.load(last, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises OSError, RuntimeError, UnpicklingError, EOFError...
        # torch's own message may advise weights_only=False: wrong here, so it is left out.
        why = f"{type(exc).__name__}: truncated, or not a checkpoint file"
        raise _unreadable(last, why) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "loops" not in ckpt:
        raise _unreadable(last, "no 'state_dict' or 'loops' entry: not a Lightning checkpoint")
    log.info("resuming from %s (epoch %s)", last, ckpt.get("epoch"))
    return str(last)


def _unreadable(path: Path, why: str) -> CheckpointError:
    return CheckpointError(
        f"{path}: cannot resume from this checkpoint ({why}). Delete it to retrain this "
        f"phase from scratch in the same run folder, or start a fresh run folder "
        f"(rerun without hydra.run.dir)."
    )


def _rng_state() -> dict[str, Any]:
    """The global random state, as tensors and ints (loadable with weights_only=True)."""
    _, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (what seed_everything seeds)
    return {
        "torch": torch.get_rng_state(),
        "numpy": (torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), cached),
        "python": random.getstate(),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _generators(trainer: L.Trainer) -> list[torch.Generator]:
    """The distinct generators that shuffle the fit's training loaders, in a fixed order."""
    loader = trainer.fit_loop._combined_loader  # the flattened train loaders of this fit
    found: list[torch.Generator] = []
    for dl in loader.flattened if loader is not None else []:
        sampler = getattr(dl, "sampler", None)
        inner = getattr(getattr(dl, "batch_sampler", None), "sampler", None)
        for gen in (getattr(dl, "generator", None), getattr(sampler, "generator", None),
                    getattr(inner, "generator", None)):  # fmt: skip
            if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
                found.append(gen)
    return found


class ResumableCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose `last.ckpt` is the last epoch and restores the random state.

    Everything else (top-k by `monitor`, file names, `best_model_path`) is Lightning's.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Any] | None = None

    # ------------------------------------------------------------- saving
    def _save_last_if_skipped(self, trainer: L.Trainer) -> None:
        # Lightning saves last.ckpt only when it saved a top-k file at this step.
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_skipped(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_skipped(trainer)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        trainer = getattr(self, "_trainer_ref", None)
        state["resume"] = {
            "rng": _rng_state(),
            "generators": [g.get_state() for g in _generators(trainer)] if trainer else [],
            # Early stopping (run before this callback) may have ended the fit at this epoch.
            "should_stop": bool(trainer.should_stop) if trainer else False,
            # What the fit reports at its end, should a resume find it already over.
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}
            if trainer
            else {},
        }
        return state

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        self._trainer_ref = trainer  # state_dict() takes no trainer argument

    # ------------------------------------------------------------ resuming
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        self._pending = state.pop("resume", None)
        super().load_state_dict(state)

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # The sanity check would only re-validate the restored weights, and the model's
        # validation hooks (best-so-far trackers) would count it: skip it on resume.
        trainer.num_sanity_val_steps = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending and self._pending.get("should_stop"):
            trainer.should_stop = True  # early stopping had ended this fit: nothing to redo

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # A resumed fit that had already ended (early stopping, max_epochs) trains no epoch
        # and logs nothing: report what it reported when it ended, and leave the random
        # state as it left it (what follows, e.g. the GAN's initial weights, draws from it).
        if self._pending is not None:
            _set_rng_state(self._pending["rng"])
            restored = self._pending.get("metrics", {})
            for key, value in restored.items():
                trainer.callback_metrics.setdefault(key, torch.tensor(value))
            self._pending = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        # Put back the state the uninterrupted fit had at this point, then draw this epoch's
        # batches again (Lightning drew them from fresh generators when the fit started).
        _set_rng_state(pending["rng"])
        generators = _generators(trainer)
        if len(generators) != len(pending["generators"]):
            log.warning(
                "resume: the training loaders have %d shuffling generators, the checkpoint %d; "
                "batch order will differ from the uninterrupted run",
                len(generators),
                len(pending["generators"]),
            )
            return
        for gen, gen_state in zip(generators, pending["generators"], strict=True):
            gen.set_state(gen_state)
        fetcher = trainer.fit_loop._data_fetcher
        if fetcher is not None:
            iter(fetcher)
