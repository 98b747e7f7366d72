"""The classifier's verdicts as every classifier-driven recovery method consumes them.

PreGAN, `evacuate` and the planner all detect with PreGAN's few-shot classifier and act on
the hosts it flags: this module holds what they share, so that no method imports another's
module. `fit_classifier` trains the classifier (Lightning); `ClassifierFlagger` turns its
verdict on an observation into flags and fault embeddings; `classifier_verdict` reports the
verdict as a RecoveryDecision. `UtilisationFlagger` is a classifier-free stand-in for tests
and for runs without a trained classifier.

The study trains each seed's classifier once (`model=classifier`, the DVC stage
`train_classifier`) and the methods load it (`model.classifier.pretrained=<folder>`): same
seed, same traces, same config give the same classifier, so fitting it in every method's run
only cost time. `shared_record`/`load_shared_classifier` are the two ends of that hand-over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import numpy as np
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from pregan.checkpoints import ResumableCheckpoint, resume_path
from pregan.data.windows import WindowDataModule, live_inputs
from pregan.io import write_json_atomic
from pregan.models.interfaces import ClassifierOutput, FitContext
from pregan.models.recovery.fault_classifier import (
    ClassifierCheckpointError,
    FaultClassifierModule,
    WindowPredictor,
)
from pregan.simulation.config import ConfigError
from pregan.simulation.interfaces import Observation, RecoveryDecision

SHARED_RECORD = "classifier.json"
"""Written into a run folder beside its checkpoints: which checkpoint is the best, its val/
metrics, the config and seed it was trained with (what `load_shared_classifier` checks)."""

Flagger = Callable[[Observation], tuple[np.ndarray, np.ndarray]]
"""obs -> (flags (H,) bool, E (H, e) float32 with zero rows for unflagged hosts).

A flagger may also offer `flag_many(observations) -> (flags (N, H), E (N, H, e))`, which
`collect_points` uses to judge a whole episode in one batch."""


class UtilisationFlagger:
    """A ground-truth-free flagger for runs without a classifier: a host is flagged when it is
    down or any resource of its last interval is at or above `threshold`; its "embedding" is
    the one-hot of its most loaded resource (so e = D)."""

    def __init__(self, threshold: float = 0.9) -> None:
        self.threshold = threshold

    def __call__(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        n_hosts = obs.spec.n_hosts
        n_dims = obs.host_metrics.shape[-1] if obs.host_metrics.ndim == 3 else 4
        if obs.t == 0:
            return np.zeros(n_hosts, bool), np.zeros((n_hosts, n_dims), np.float32)
        last = obs.host_metrics[-1]  # (H, D)
        flags = (last >= self.threshold).any(axis=1) | ~obs.host_up  # (H,)
        emb = np.eye(n_dims, dtype=np.float32)[last.argmax(axis=1)] * flags[:, None]  # (H, D)
        return flags, emb


class ClassifierFlagger:
    """Runs the classifier on the last `window` intervals of an observation.

    E is the prototype vector of each flagged host's nearest fault class (zeros for the
    others), as in the original: the generator sees "which class of fault, where".
    Before any interval has run there is nothing to read: no host is flagged.
    One window per call runs through the classifier's ONNX Runtime graph
    (`FaultClassifierModule.window_predictor`), exported by `prepare` (or at the first
    call): like the prototype vectors, the flagger judges with the weights it was prepared
    with. `flag_many` stays in PyTorch.
    Its inputs (metrics window, containers and demand channels) come from the observation's
    histories through `pregan.data.windows.live_inputs`, the same function that builds the
    training windows.
    """

    def __init__(self, classifier: FaultClassifierModule) -> None:
        self.classifier = classifier.eval()
        self.window = int(classifier.hparams.window)
        self.vectors = classifier.prototypes.vectors.detach().cpu().numpy()  # (K, E)
        self.last: ClassifierOutput | None = None  # the verdict of the last call
        self.last_many: ClassifierOutput | None = None  # ... of the last flag_many, (N, ...)
        self.uses_containers = bool(classifier.uses_containers)
        self.uses_demand = bool(classifier.uses_demand)
        self._predict_window: WindowPredictor | None = None  # by prepare()

    def inputs(self, obs: Observation) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The classifier's window (W, H, D), containers and demand (W, H) (or None where not
        read) at obs.t >= 1."""
        return live_inputs(obs, self.window, self.uses_containers, self.uses_demand)

    def prepare(self) -> ClassifierFlagger:
        """Export the classifier's decision graph now (about a second) rather than at the
        first call, so that no decision pays for it; returns the flagger. Policies do this
        when they are built."""
        if self._predict_window is None:
            self._predict_window = self.classifier.window_predictor()
        return self

    @property
    def embed_dim(self) -> int:
        return int(self.vectors.shape[1])

    def _embed(self, out: ClassifierOutput) -> np.ndarray:
        """(..., H, E) prototype vector of each flagged host's nearest class, zeros elsewhere."""
        d2 = ((out.embedding[..., :, None, :] - self.vectors) ** 2).sum(-1)  # (..., H, K)
        emb = self.vectors[d2.argmin(axis=-1)] * out.host_flags[..., None]  # (..., H, E)
        return emb.astype(np.float32)

    def __call__(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        h = obs.spec.n_hosts
        if obs.host_metrics.shape[0] == 0:
            self.last = None
            return np.zeros(h, bool), np.zeros((h, self.embed_dim), np.float32)
        out = self.prepare()._predict_window(*self.inputs(obs))
        self.last = out
        return out.host_flags.astype(bool), self._embed(out)

    def flag_many(self, observations: list[Observation]) -> tuple[np.ndarray, np.ndarray]:
        """Flags (N, H) and E (N, H, e) of N observations (each with history, t >= 1, the
        consecutive intervals of one episode) in one batch: the same verdicts as calling the
        flagger on each, at a fraction of the cost."""
        inputs = [self.inputs(o) for o in observations]
        windows = np.stack([w for w, _, _ in inputs])  # (N, W, H, D)
        containers = np.stack([c for _, c, _ in inputs]) if self.uses_containers else None
        demand = np.stack([d for _, _, d in inputs]) if self.uses_demand else None
        out = self.classifier.predict_windows(windows, containers, demand)  # fields (N, ...)
        self.last_many = out
        return out.host_flags.astype(bool), self._embed(out)


def classifier_verdict(
    flagger: Flagger,
    obs: Observation,
    proposal: np.ndarray,
) -> tuple[RecoveryDecision, np.ndarray, np.ndarray]:
    """Run the flagger on `obs`; return the scheduler's proposal as a decision carrying the
    classifier's verdicts (scores, flags, root-cause scores, classes), plus flags (H,) and
    E (H, e). Zeros stand in for the verdicts of a flagger that reports no `last` output."""
    spec = obs.spec
    flags, emb = flagger(obs)
    out: ClassifierOutput | None = getattr(flagger, "last", None)
    decision = RecoveryDecision(
        placement=proposal,
        host_scores=out.host_prob if out is not None else np.zeros(spec.n_hosts),
        host_flags=flags,
        dim_scores=out.dim_scores
        if out is not None
        else np.zeros((spec.n_hosts, len(spec.metrics)), np.float32),
        fault_class=out.fault_class if out is not None else np.zeros(spec.n_hosts, np.int64),
    )
    return decision, flags, emb


def fit_classifier(
    classifier_cfg: DictConfig, ctx: FitContext
) -> tuple[FaultClassifierModule, dict[str, float], Path | None]:
    """Train the few-shot classifier on the trace windows; return (the best model in eval
    mode, its val/ metrics, the best checkpoint or None).

    The classifier config's `trainer` block (max_epochs, min_epochs, batch_size) overrides
    the run's trainer and data settings for this fit only (early stopping on val/f1 acts
    between min_epochs and max_epochs). Resumes from the run's last classifier checkpoint.
    """
    cfg = fit_config(classifier_cfg)
    fit_cfg = cfg.pop("trainer", None) or {}
    data = ctx.simulation_cfg.get("data", {}) if ctx.simulation_cfg is not None else {}
    dm = WindowDataModule(
        train=ctx.train_dir,
        val=ctx.val_dir,
        window=int(cfg.get("window", 3)),
        batch_size=int(fit_cfg.get("batch_size") or data.get("batch_size", 128)),
        seed=ctx.seed,
    )
    dm.setup("fit")
    model = hydra.utils.instantiate(cfg, n_hosts=dm.n_hosts, n_features=dm.n_features)
    ckpt_dir = ctx.output_dir / "checkpoints" / "classifier"
    callbacks = _callbacks(ctx, ckpt_dir)
    overrides = {k: int(fit_cfg[k]) for k in ("max_epochs", "min_epochs") if fit_cfg.get(k)}
    trainer = hydra.utils.instantiate(
        ctx.trainer_cfg, callbacks=callbacks, logger=ctx.loggers, **overrides
    )
    last = ckpt_dir / "last.ckpt"
    trainer.fit(model, datamodule=dm, ckpt_path=resume_path(last))
    best = next((c.best_model_path for c in callbacks if isinstance(c, ModelCheckpoint)), "")
    best_path = None
    if best and Path(best).is_file():
        model = FaultClassifierModule.from_checkpoint(best)
        best_path = Path(best)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    return model.eval(), metrics, best_path


def fit_config(classifier_cfg: DictConfig) -> dict[str, Any]:
    """The classifier config as the fit reads it: resolved, without the keys that do not
    change the trained model (`name`, and `pretrained`, which says where to load it from)."""
    cfg = OmegaConf.to_container(classifier_cfg, resolve=True)
    return {k: v for k, v in cfg.items() if k not in ("name", "pretrained")}


def shared_record(
    output_dir: Path, classifier_cfg: DictConfig, seed: int, metrics: dict[str, float], best: Path
) -> None:
    """Record a fitted classifier in its run folder for `load_shared_classifier`."""
    write_json_atomic(
        Path(output_dir) / SHARED_RECORD,
        {
            "seed": int(seed),
            "config": fit_config(classifier_cfg),
            "metrics": metrics,
            "checkpoint": os.path.relpath(best, output_dir),
        },
    )


def pretrained_folder(folder: str, ctx: FitContext) -> Path:
    """`<folder>/seed<k>` of this run's seed; a relative folder is read from the project root
    (`paths.root_dir`), as DVC and Hydra's sweep folders are."""
    path = Path(folder)
    if not path.is_absolute():
        root = ctx.simulation_cfg.get("paths", {}).get("root_dir") if ctx.simulation_cfg else None
        path = Path(root or ".") / path
    return path / f"seed{ctx.seed}"


def load_shared_classifier(
    classifier_cfg: DictConfig, ctx: FitContext
) -> tuple[FaultClassifierModule, dict[str, float], Path]:
    """The classifier `model=classifier` fitted for this seed with this config: (the best
    model in eval mode, the val/ metrics of its fit, its checkpoint). A missing record, another
    seed or another config is a clear error, never a silently different classifier."""
    folder = pretrained_folder(str(classifier_cfg.pretrained), ctx)
    path = folder / SHARED_RECORD
    if not path.is_file():
        raise ClassifierCheckpointError(
            f"{path}: no shared classifier for seed {ctx.seed}; train it first with "
            "`python -m dvc repro train_classifier` (or set model.classifier.pretrained=null)"
        )
    try:
        record = json.loads(path.read_text())
        seed, config = int(record["seed"]), record["config"]
        metrics = {str(k): float(v) for k, v in record["metrics"].items()}
        ckpt = folder / str(record["checkpoint"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ClassifierCheckpointError(f"{path}: not a classifier record ({err!r})") from None
    if seed != ctx.seed:
        raise ClassifierCheckpointError(f"{path}: trained with seed {seed}, run seed {ctx.seed}")
    want = fit_config(classifier_cfg)
    if config != want:
        diff = sorted(k for k in set(config) | set(want) if config.get(k) != want.get(k))
        raise ConfigError(
            f"{path}: the shared classifier was trained with other classifier settings "
            f"({', '.join(f'{k}: {config.get(k)!r} there, {want.get(k)!r} here' for k in diff)}); "
            "retrain it (dvc repro train_classifier) or set model.classifier.pretrained=null"
        )
    return FaultClassifierModule.from_checkpoint(ckpt).eval(), metrics, ckpt


def _callbacks(ctx: FitContext, ckpt_dir: Path) -> list[Any]:
    """The run's checkpoint/early-stopping callbacks (val/f1), checkpoints in `ckpt_dir`."""
    cb_cfg = ctx.simulation_cfg.get("callbacks") if ctx.simulation_cfg is not None else None
    if not cb_cfg:
        return [
            ResumableCheckpoint(dirpath=ckpt_dir, monitor="val/f1", mode="max", save_last=True),
            L.pytorch.callbacks.EarlyStopping(monitor="val/f1", mode="max", patience=5),
        ]
    out = []
    for cfg in cb_cfg.values():
        if cfg is None or "_target_" not in cfg:
            continue
        if cfg._target_.endswith("Checkpoint"):
            out.append(hydra.utils.instantiate(cfg, dirpath=str(ckpt_dir)))
        else:
            out.append(hydra.utils.instantiate(cfg))
    return out


class ClassifierMethod:
    """The half every classifier-driven method shares (`evacuate`, `planner`, `pregan`): hold
    the classifier config, train it with `fit_classifier` (or load the shared one of this seed
    when `classifier.pretrained` names a folder), keep its best checkpoint as an artifact.
    Subclasses add their policy (and PreGAN its GAN)."""

    def __init__(self, name: str, classifier: DictConfig | None, source: str) -> None:
        if classifier is None:
            raise ValueError(f"{source}: `classifier` is required")
        self.name, self.classifier_cfg = name, classifier
        self.classifier: FaultClassifierModule | None = None
        self._artifacts: dict[str, Path] = {}

    def fit(self, ctx: FitContext) -> dict[str, float]:
        if self.classifier_cfg.get("pretrained"):
            self.classifier, metrics, best = load_shared_classifier(self.classifier_cfg, ctx)
        else:
            self.classifier, metrics, best = fit_classifier(self.classifier_cfg, ctx)
            if best is not None:
                shared_record(ctx.output_dir, self.classifier_cfg, ctx.seed, metrics, best)
        if best is not None:
            self._artifacts["classifier"] = best
        return metrics

    def fitted_classifier(self) -> FaultClassifierModule:
        """The trained classifier, or a clear error when `fit` has not run."""
        if self.classifier is None:
            raise RuntimeError(f"{type(self).__name__}.policy(): call fit() first")
        return self.classifier

    def artifacts(self) -> dict[str, Path]:
        return dict(self._artifacts)
