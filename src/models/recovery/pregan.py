"""PreGAN as a Method: the few-shot fault classifier followed by the GAN migrator.

fit: train the classifier on the trace windows (Lightning, checkpoint and early stopping on
val/f1), then train the GAN offline by co-simulation on re-run training-seed episodes, with
the classifier's flags and prototype embeddings as the generator's fault input.
policy: per interval detect -> classify -> generate -> discriminate -> migrate (S' is enacted
only when D prefers it), optionally learning online, one GAN update per interval.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from pregan.checkpoints import ResumableCheckpoint, resume_path
from pregan.console import rich_progress_bar
from pregan.data.windows import WindowDataModule, live_inputs
from pregan.models.interfaces import ClassifierOutput, FitContext
from pregan.models.recovery.cosim_scoring import CosimScoring
from pregan.models.recovery.fault_classifier import FaultClassifierModule
from pregan.models.recovery.gan_migrator import (
    GanCheckpointError,
    GanMigratorModule,
    collate_points,
    collect_points,
    decision_point,
    load_gan,
)
from pregan.simulation.cosim import Cosimulation, FaultEstimate, estimate_faults
from pregan.simulation.interfaces import ClusterSpec, Observation, RecoveryDecision

log = logging.getLogger(__name__)

_GAN_KEYS = (
    "hidden",
    "bound",
    "lr_g",
    "lr_d",
    "lr_online",
    "n_samples",
    "move_prob",
    "relax_beta",
    "imitation_weight",
    "min_gain",
)


class ClassifierFlagger:
    """Runs the classifier on the last `window` intervals of an observation.

    E is the prototype vector of each flagged host's nearest fault class (zeros for the
    others), as in the original: the generator sees "which class of fault, where".
    Before any interval has run there is nothing to read: no host is flagged.
    Its inputs (metrics window, containers and demand channels) come from the observation's
    histories through `pregan.data.windows.live_inputs`, the same function that builds the
    training windows.
    """

    def __init__(self, classifier: FaultClassifierModule) -> None:
        self.classifier = classifier.eval()
        self.window = int(classifier.hparams.window)
        self.vectors = classifier.prototypes.vectors.detach().cpu().numpy()  # (K, E)
        self.last: ClassifierOutput | None = None
        self.uses_containers = bool(classifier.uses_containers)
        self.uses_demand = bool(classifier.uses_demand)

    def inputs(self, obs: Observation) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The classifier's window (W, H, D), containers and demand (W, H) (or None where not
        read) at obs.t >= 1."""
        return live_inputs(obs, self.window, self.uses_containers, self.uses_demand)

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
        out = self.classifier.predict_window(*self.inputs(obs))
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
        return out.host_flags.astype(bool), self._embed(out)


def classifier_verdict(
    flagger: Callable[[Observation], tuple[np.ndarray, np.ndarray]],
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


class PreGANPolicy:
    """RecoveryPolicy: the scheduler's proposal stands unless D prefers the generator's S'."""

    name = "pregan"

    def __init__(
        self,
        flagger: Callable[[Observation], tuple[np.ndarray, np.ndarray]],
        gan: GanMigratorModule,
        window: int,
        online: bool = False,
        accept_threshold: float = 0.5,
    ) -> None:
        self.flagger, self.gan, self.window = flagger, gan.eval(), window
        self.online, self.accept_threshold = online, accept_threshold
        self._cosim: Callable[[FaultEstimate], Cosimulation] | None = None
        self.accepted = 0
        self.generated = 0

    def reset(self, spec: ClusterSpec) -> None:
        hp = self.gan.hparams
        if (hp.n_hosts, hp.n_slots) != (spec.n_hosts, spec.n_slots):
            raise GanCheckpointError(
                f"PreGAN: the GAN was built for n_hosts={hp.n_hosts}, n_slots={hp.n_slots}; the "
                f"run's cluster has n_hosts={spec.n_hosts}, n_slots={spec.n_slots}"
            )
        self._cosim, self.accepted, self.generated = None, 0, 0

    def attach_cosimulator(self, make: Callable[[FaultEstimate], Cosimulation]) -> None:
        """`make(estimate)` snapshots the live container state under a fault estimate, for
        online co-simulation (the simulator's fault schedule is never read)."""
        self._cosim = make

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        proposal = np.asarray(proposal, dtype=np.int64)
        decision, flags, emb = classifier_verdict(self.flagger, obs, proposal)
        # Until a full window exists the scheduler's proposal stands (verdicts still reported).
        if obs.t < self.window or not flags.any():
            return decision
        fork = None
        if self.online and self._cosim is not None:
            # The classifier's own verdicts (class of each flagged host) and the observed
            # levels: the faults the GAN's co-simulation assumes.
            classes = np.where(flags, np.asarray(decision.fault_class, dtype=np.int64), 0)
            fork = self._cosim(estimate_faults(obs, classes))
        point = decision_point(obs, proposal, flags, emb, fork)
        cand, prob, _ = self.gan.propose(point)
        if not np.array_equal(cand, proposal):
            self.generated += 1
            if prob > self.accept_threshold:
                decision.placement = cand
                self.accepted += 1
        if fork is not None:
            self.gan.online_update(point)
        return decision


class PreGANMethod:
    """`model=pregan`: classifier + GAN migrator (see the module docstring)."""

    def __init__(
        self,
        name: str = "pregan",
        classifier: DictConfig | None = None,
        migrator: DictConfig | None = None,
        online: bool = False,
        **_: Any,
    ) -> None:
        if classifier is None or migrator is None:
            raise ValueError(
                "conf/model/pregan.yaml: both `classifier` and `migrator` are required"
            )
        # Fail at instantiation (config validation), not after the classifier has trained.
        CosimScoring.from_config(migrator.get("cosim", {}), source="conf/migrator/gan.yaml")
        self.name, self.online = name, bool(online)
        self.classifier_cfg = classifier
        self.migrator_cfg = migrator
        self.classifier: FaultClassifierModule | None = None
        self.gan: GanMigratorModule | None = None
        self._artifacts: dict[str, Path] = {}

    # ------------------------------------------------------------------ GAN
    def _fit_gan(self, ctx: FitContext) -> dict[str, float]:
        from pregan.simulation.simulator import Simulator

        assert self.classifier is not None
        cfg, mig = ctx.simulation_cfg, self.migrator_cfg
        flagger = ClassifierFlagger(self.classifier)
        n_hosts = int(cfg.simulation.n_hosts)
        n_slots = int(cfg.simulation.get("n_slots") or n_hosts)
        gan = GanMigratorModule(
            n_hosts=n_hosts,
            n_slots=n_slots,
            embed_dim=flagger.embed_dim,
            cosim=OmegaConf.to_container(mig.cosim, resolve=True),
            seed=ctx.seed,
            **{k: mig[k] for k in _GAN_KEYS if k in mig},
        )
        start = time.perf_counter()
        points = collect_points(
            lambda s: Simulator.from_config(cfg, s),
            hydra.utils.instantiate(cfg.scheduler),
            flagger,
            _train_seeds(ctx),
            stride=int(mig.get("stride", 1)),
            min_t=flagger.window,  # the policy acts only once a full window exists
        )
        if not points:
            raise ValueError(
                "PreGAN GAN fit: no training interval has a flagged host; the classifier "
                "flags nothing on the training seeds (data.train_seeds)"
            )
        log.info("GAN: %d decision points in %.1f s", len(points), time.perf_counter() - start)
        loader = DataLoader(
            points,
            batch_size=int(mig.get("batch_points", 8)),
            shuffle=True,
            generator=torch.Generator().manual_seed(ctx.seed),
            collate_fn=collate_points,
        )
        ckpt_dir = ctx.output_dir / "checkpoints" / "gan"
        ckpt = ResumableCheckpoint(dirpath=ckpt_dir, filename="gan_{epoch:03d}", save_last=True)
        trainer = hydra.utils.instantiate(
            ctx.trainer_cfg,
            max_epochs=int(mig.get("epochs", 3)),
            min_epochs=1,
            callbacks=[ckpt, rich_progress_bar(ctx.trainer_cfg.get("enable_progress_bar", True))],
            logger=ctx.loggers,
            num_sanity_val_steps=0,
        )
        last = ckpt_dir / "last.ckpt"
        if resume := resume_path(last):  # a clear error on an unreadable file
            load_gan(last, n_hosts, n_slots)  # clear error on a size mismatch before resuming
        trainer.fit(gan, train_dataloaders=loader, ckpt_path=resume)
        log.info("GAN: offline fit took %.1f s", time.perf_counter() - start)
        if last.is_file():
            self._artifacts["gan"] = last
        plots = Path(trainer.default_root_dir) / "gan_plots"
        if plots.is_dir():
            self._artifacts["gan_plots"] = plots
        self.gan = gan.eval()
        return {k: float(v) for k, v in trainer.callback_metrics.items() if k.endswith("_epoch")}

    def fit(self, ctx: FitContext) -> dict[str, float]:
        self.classifier, metrics, best = fit_classifier(self.classifier_cfg, ctx)
        if best is not None:
            self._artifacts["classifier"] = best
        if ctx.policy_needed:  # no GAN for a run that only reports the classifier's metrics
            metrics.update(self._fit_gan(ctx))
        return metrics

    def policy(self) -> PreGANPolicy:
        if self.classifier is None or self.gan is None:
            raise RuntimeError("PreGANMethod.policy(): call fit() first")
        return PreGANPolicy(
            ClassifierFlagger(self.classifier),
            self.gan,
            window=int(self.classifier.hparams.window),
            online=self.online,
            accept_threshold=float(self.migrator_cfg.get("accept_threshold", 0.5)),
        )

    def artifacts(self) -> dict[str, Path]:
        return dict(self._artifacts)


def fit_classifier(
    classifier_cfg: DictConfig, ctx: FitContext
) -> tuple[FaultClassifierModule, dict[str, float], Path | None]:
    """Train the few-shot classifier on the trace windows; return (the best model in eval
    mode, its val/ metrics, the best checkpoint or None).

    The classifier config's `trainer` block (max_epochs, min_epochs, batch_size) overrides
    the run's trainer and data settings for this fit only (early stopping on val/f1 acts
    between min_epochs and max_epochs). Resumes from the run's last classifier checkpoint.
    """
    cfg = OmegaConf.to_container(classifier_cfg, resolve=True)
    cfg = {k: v for k, v in cfg.items() if k not in ("name",)}
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


def _train_seeds(ctx: FitContext) -> list[int]:
    """Training-episode seeds from the split's manifest, else from data.train_seeds."""
    manifest = Path(ctx.train_dir) / "manifest.json"
    if manifest.is_file():
        seeds = json.loads(manifest.read_text()).get("seeds")
        if isinstance(seeds, list) and seeds:
            return [int(s) for s in seeds]
    return [int(s) for s in ctx.simulation_cfg.data.train_seeds]
