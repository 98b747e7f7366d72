"""PreGAN as a Method: the few-shot fault classifier followed by the GAN migrator.

fit: train the classifier on the trace windows (Lightning, checkpoint and early stopping on
val/f1), then train the GAN offline by co-simulation on re-run training-seed episodes, with
the classifier's flags and prototype embeddings as the generator's fault input.
With `migrator.pretrained` (a folder of seed<k> runs) the GAN is loaded from the run of this
seed there instead (`pregan_online` starts from `pregan`'s offline GAN in the study).
policy: per interval detect -> classify -> generate -> discriminate -> migrate (S' is enacted
only when D prefers it), optionally learning online, one GAN update per interval.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from pregan.checkpoints import ResumableCheckpoint, resume_path
from pregan.console import rich_progress_bar
from pregan.models.interfaces import FitContext
from pregan.models.recovery.classifier_flagging import (
    ClassifierFlagger,
    ClassifierMethod,
    Flagger,
    classifier_verdict,
    pretrained_folder,
)
from pregan.models.recovery.decision_points import collate_points, collect_points
from pregan.models.recovery.decoding import decision_point
from pregan.models.recovery.gan_checkpoint import GanCheckpointError, load_gan
from pregan.models.recovery.gan_migrator import GanMigratorModule
from pregan.models.recovery.planning import MakeCosim, scoring_from, verdict_estimate
from pregan.simulation.config import ConfigError
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
    "adversarial_weight",
    "imitation_weight",
    "min_gain",
)


class PreGANPolicy:
    """RecoveryPolicy: the scheduler's proposal stands unless D prefers the generator's S'."""

    name = "pregan"

    def __init__(
        self,
        flagger: Flagger,
        gan: GanMigratorModule,
        window: int,
        online: bool = False,
        accept_threshold: float = 0.5,
    ) -> None:
        self.flagger, self.gan, self.window = flagger, gan.eval(), window
        self.online, self.accept_threshold = online, accept_threshold
        if not online:  # a GAN that no longer learns decides from its ONNX graphs, exported
            gan.compile_decisions()  # here so that no decision pays for it
        self._cosim: MakeCosim | None = None
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

    def attach_cosimulator(self, make: MakeCosim) -> None:
        """`make(estimate)` snapshots the live cluster under a fault estimate, for online
        co-simulation only (never read for decisions; the simulator's faults are never seen)."""
        self._cosim = make

    def decide(self, obs: Observation, proposal: np.ndarray) -> RecoveryDecision:
        proposal = np.asarray(proposal, dtype=np.int64)
        decision, flags, emb = classifier_verdict(self.flagger, obs, proposal)
        # Until a full window exists the scheduler's proposal stands (verdicts still reported).
        if obs.t < self.window or not flags.any():
            return decision
        sim = None
        if self.online and self._cosim is not None:
            # The classifier's own verdicts and the observed levels: the planner's estimate.
            sim = self._cosim(verdict_estimate(obs, decision))
        point = decision_point(obs, proposal, flags, emb, sim)
        cand, prob, _ = self.gan.propose(point)
        if not np.array_equal(cand, proposal):
            self.generated += 1
            if prob > self.accept_threshold:
                decision.placement = cand
                self.accepted += 1
        if sim is not None:
            self.gan.online_update(point)
        return decision


class PreGANMethod(ClassifierMethod):
    """`model=pregan`: classifier + GAN migrator (see the module docstring)."""

    def __init__(
        self,
        name: str = "pregan",
        classifier: DictConfig | None = None,
        migrator: DictConfig | None = None,
        online: bool = False,
        **_: Any,
    ) -> None:
        if migrator is None:
            raise ValueError("conf/model/pregan.yaml: `migrator` is required")
        super().__init__(name, classifier, "conf/model/pregan.yaml")
        # Fail at instantiation (config validation), not after the classifier has trained.
        _, self.budget = scoring_from(migrator, "conf/migrator/gan.yaml")
        self.online = bool(online)
        self.migrator_cfg = migrator
        self.gan: GanMigratorModule | None = None

    # ------------------------------------------------------------------ GAN
    def _fit_gan(self, ctx: FitContext) -> dict[str, float]:
        from pregan.simulation.simulator import Simulator

        assert self.classifier is not None
        cfg, mig = ctx.simulation_cfg, self.migrator_cfg
        flagger = ClassifierFlagger(self.classifier)
        n_hosts = int(cfg.simulation.n_hosts)
        n_slots = int(cfg.simulation.get("n_slots") or n_hosts)
        start = time.perf_counter()
        points = collect_points(
            lambda s: Simulator.from_config(cfg, s),
            hydra.utils.instantiate(cfg.scheduler),
            flagger,
            _train_seeds(ctx),
            stride=int(mig.get("stride", 1)),
            min_t=flagger.window,  # the policy acts only once a full window exists
            teacher_faults=str(mig.get("teacher_faults", "true")),
        )
        if not points:
            raise ValueError(
                "PreGAN GAN fit: no training interval has a flagged host; the classifier "
                "flags nothing on the training seeds (data.train_seeds)"
            )
        log.info("GAN: %d decision points in %.1f s", len(points), time.perf_counter() - start)
        gan = GanMigratorModule(
            n_hosts=n_hosts,
            n_slots=n_slots,
            embed_dim=flagger.embed_dim,
            n_metrics=int(points[0].host_util.shape[1]),  # the cluster's monitored metrics
            cosim=OmegaConf.to_container(mig.cosim, resolve=True),
            seed=ctx.seed,
            budget=self.budget,
            **{k: mig[k] for k in _GAN_KEYS if k in mig},
        )
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

    def _load_gan(self, ctx: FitContext) -> dict[str, float]:
        """The offline GAN of another run of this seed (`migrator.pretrained`: a folder of
        seed<k> runs, e.g. runs/pregan): `pregan_online` starts from exactly the GAN `pregan`
        fitted (same classifier, seed, traces and settings), so fitting it again only cost
        time. Returns that run's train/ metrics of the fit."""
        assert self.classifier is not None
        folder = pretrained_folder(str(self.migrator_cfg.pretrained), ctx)
        cfg = ctx.simulation_cfg
        n_hosts = int(cfg.simulation.n_hosts)
        gan = load_gan(
            folder / "checkpoints" / "gan" / "last.ckpt",
            n_hosts,
            int(cfg.simulation.get("n_slots") or n_hosts),
        )
        want = {k: self.migrator_cfg[k] for k in _GAN_KEYS if k in self.migrator_cfg}
        want.update(
            seed=ctx.seed,
            budget=self.budget,
            embed_dim=ClassifierFlagger(self.classifier).embed_dim,
            cosim=OmegaConf.to_container(self.migrator_cfg.cosim, resolve=True),
        )
        if diff := sorted(k for k, v in want.items() if gan.hparams.get(k) != v):
            raise ConfigError(
                f"{folder}: its GAN was trained with other settings ("
                + ", ".join(f"{k}: {gan.hparams.get(k)!r} there, {want[k]!r} here" for k in diff)
                + "); retrain it or set model.migrator.pretrained=null"
            )
        record = json.loads((folder / "metrics.json").read_text()).get("metrics", {})
        self._artifacts["gan"] = folder / "checkpoints" / "gan" / "last.ckpt"
        self.gan = gan.eval()
        return {k: float(v) for k, v in record.items() if k.startswith("train/")}

    def fit(self, ctx: FitContext) -> dict[str, float]:
        metrics = super().fit(ctx)
        if ctx.policy_needed:  # no GAN for a run that only reports the classifier's metrics
            pretrained = self.migrator_cfg.get("pretrained")
            metrics.update(self._load_gan(ctx) if pretrained else self._fit_gan(ctx))
        return metrics

    def policy(self) -> PreGANPolicy:
        if self.classifier is None or self.gan is None:
            raise RuntimeError("PreGANMethod.policy(): call fit() first")
        return PreGANPolicy(
            ClassifierFlagger(self.classifier).prepare(),
            self.gan,
            window=int(self.classifier.hparams.window),
            online=self.online,
            accept_threshold=float(self.migrator_cfg.get("accept_threshold", 0.5)),
        )


def _train_seeds(ctx: FitContext) -> list[int]:
    """Training-episode seeds from the split's manifest, else from data.train_seeds."""
    manifest = Path(ctx.train_dir) / "manifest.json"
    if manifest.is_file():
        seeds = json.loads(manifest.read_text()).get("seeds")
        if isinstance(seeds, list) and seeds:
            return [int(s) for s in seeds]
    return [int(s) for s in ctx.simulation_cfg.data.train_seeds]
