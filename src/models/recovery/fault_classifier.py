"""PreGAN's fault detector and few-shot classifier as a LightningModule.

Per host and window it gives: the probability of being faulty (anomaly head), an embedding
whose nearest fault-class prototype is the predicted class, and a root-cause score per
resource dimension. The module owns the losses, the torchmetrics and the optimiser; the
networks live in `components/`. It normalises raw windows itself with the training split's
statistics, which, together with the validation-chosen decision threshold, are buffers and
travel with every checkpoint: a checkpoint alone is enough to make decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import lightning as L
import numpy as np
import torch
from torch import nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import (
    BinaryPrecisionRecallCurve,
    MulticlassAccuracy,
)

from pregan.models.components.encoder import FPEEncoder
from pregan.models.components.heads import AnomalyHead, DiagnosisHead, PrototypeHead
from pregan.models.components.linear_encoder import LinearEncoder
from pregan.models.components.onnx_graph import OnnxGraph
from pregan.models.interfaces import ClassifierOutput
from pregan.models.recovery.losses import anomaly_loss, diagnosis_loss, prototype_losses
from pregan.models.recovery.prototypes import PrototypeBank
from pregan.simulation.interfaces import FAULT_KINDS

ENCODERS: dict[str, type[nn.Module]] = {"fpe": FPEEncoder, "linear": LinearEncoder}
INPUT_FEATURES: tuple[str, ...] = ("value", "delta", "cluster", "containers", "demand")
# Features computed per resource dimension (D channels each); "containers" and "demand" are
# one channel each.
METRIC_FEATURES: tuple[str, ...] = ("value", "delta", "cluster")


class ClassifierInputError(ValueError):
    """A window that the fitted classifier cannot read (shape, dims, NaN)."""


class ClassifierCheckpointError(ValueError):
    """A classifier checkpoint that is missing, unreadable or incomplete; names the file."""


class ClassifierTensors(NamedTuple):
    """Raw outputs of one forward pass."""

    logits: torch.Tensor  # (B, H, 2) normal / faulty
    embedding: torch.Tensor  # (B, H, E) in [0, 1]
    dim_logits: torch.Tensor  # (B, H, D) root-cause logits


class FaultClassifierModule(L.LightningModule):
    """Detector + nearest-prototype classifier + diagnosis ranking over windows (B, W, H, D).

    Args:
        n_hosts, n_features: H and D of the data (from the datamodule, never hard-coded).
        window: W intervals per window.
        encoder: "fpe" (GRU + GAT + self-attention) or "linear" (the ablation).
        latent, heads, gat_heads, hidden: encoder sizes (see FPEEncoder).
        embed_dim: prototype-space dimension (2 in the original).
        input_features: what the encoder reads per dimension, from `INPUT_FEATURES`:
            "value" (the normalised metric), "delta" (its change from the previous interval,
            0 at the first) and "cluster" (its deviation from the mean over the H hosts of
            that interval), per resource; "containers" adds one channel per host and interval,
            the scheduler's placement as containers on the host relative to an even spread,
            centred on it (0 = a fair share; PreGAN's placement matrix S; see
            `pregan.data.windows.container_share`); "demand" adds one channel, the base CPU
            demand the scheduler placed on the host over its capacity (`host_demand`). The
            diagnosis head always reads the values, so diagnosis stays over the D resources.
        n_classes: fault classes K (FAULT_KINDS by default); labels are 0 none, 1..K.
        *_weight: weights of the anomaly CE, prototype pull, triplet and diagnosis BCE terms.
        triplet_margin: margin of the triplet loss, in squared embedding distance.
        faulty_class_weight: CE weight of the faulty class; None sets it from the training
            split to n_normal / n_faulty (clipped to [1, 100]).
        proto_momentum, proto_decay: prototype moving-average factor and its per-step decay.
        optimizer, scheduler: `_partial_` factories (Hydra); AdamW(lr 1e-3, wd 1e-5) if None
            (the original used 1e-4 one window at a time; see conf/classifier/fpe.yaml).
    """

    def __init__(
        self,
        n_hosts: int,
        n_features: int,
        window: int = 3,
        encoder: str = "fpe",
        latent: int = 10,
        heads: int = 2,
        gat_heads: int = 1,
        hidden: int = 32,
        embed_dim: int = 2,
        input_features: tuple[str, ...] | list[str] = ("value",),
        n_classes: int = len(FAULT_KINDS),
        anomaly_weight: float = 1.0,
        prototype_weight: float = 1.0,
        triplet_weight: float = 1.0,
        diagnosis_weight: float = 1.0,
        triplet_margin: float = 0.05,
        faulty_class_weight: float | None = None,
        proto_momentum: float = 0.22,
        proto_decay: float = 0.995,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(
                f"classifier.encoder: unknown {encoder!r}, choose from {sorted(ENCODERS)}"
            )
        if n_hosts < 1 or n_features < 1 or window < 1:
            raise ValueError(
                f"classifier: n_hosts, n_features, window must be >= 1, got {n_hosts}, {n_features}, {window}"
            )
        # A plain list before save_hyperparameters: Hydra hands a ListConfig, which a
        # weights-only checkpoint load refuses.
        input_features = [str(name) for name in input_features]
        features = tuple(input_features)
        unknown = sorted(set(features) - set(INPUT_FEATURES))
        if not features or unknown or len(set(features)) != len(features):
            raise ValueError(
                f"classifier.input_features: {list(features)} must be distinct names from "
                f"{list(INPUT_FEATURES)}"
            )
        self.save_hyperparameters(logger=False, ignore=["optimizer", "scheduler"])
        self.input_features = features
        self.uses_containers = "containers" in features
        self.uses_demand = "demand" in features
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler

        n_metric = sum(name in METRIC_FEATURES for name in features)
        in_dim = n_features * n_metric + int(self.uses_containers) + int(self.uses_demand)
        self.encoder = ENCODERS[encoder](in_dim, window, latent, heads, gat_heads, hidden=hidden)
        self.anomaly_head = AnomalyHead(latent, hidden)
        self.prototype_head = PrototypeHead(latent, embed_dim, hidden)
        self.diagnosis_head = DiagnosisHead(latent, n_features, hidden)
        self.prototypes = PrototypeBank(n_classes, embed_dim, proto_momentum, proto_decay)

        self.register_buffer("feature_mean", torch.zeros(n_features))  # (D,)
        self.register_buffer("feature_std", torch.ones(n_features))  # (D,)
        self.register_buffer("class_weight", torch.ones(2))  # (2,)
        self.register_buffer("threshold", torch.tensor(0.5))
        self.register_buffer("stats_fitted", torch.tensor(False))

        self.train_loss = MeanMetric()
        self.val_loss = MeanMetric()
        self.val_curve = BinaryPrecisionRecallCurve()  # exact thresholds (sorting, deterministic)
        self.val_f1_best = MaxMetric()
        self.val_f1_best.persistent(True)  # travels with checkpoints: a resumed fit keeps it
        self.val_class_acc = MulticlassAccuracy(num_classes=n_classes, average="micro")
        self.val_diag_top1 = MeanMetric()

    # ---------------------------------------------------------------- data statistics
    def set_data_stats(
        self, feature_mean: np.ndarray, feature_std: np.ndarray, faulty_fraction: float
    ) -> None:
        """Adopt the training split's normalisation and class balance (saved in checkpoints)."""
        d = self.hparams.n_features
        mean = np.asarray(feature_mean, dtype=np.float32)
        std = np.asarray(feature_std, dtype=np.float32)
        if mean.shape != (d,) or std.shape != (d,):
            raise ValueError(
                f"feature_mean/std: expected shape ({d},), got {mean.shape}, {std.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError("feature_mean/std: must be finite with std > 0")
        self.feature_mean.copy_(torch.from_numpy(mean))
        self.feature_std.copy_(torch.from_numpy(std))
        weight = self.hparams.faulty_class_weight
        if weight is None:
            weight = (1 - faulty_fraction) / faulty_fraction if faulty_fraction > 0 else 1.0
            weight = float(np.clip(weight, 1.0, 100.0))
        self.class_weight.copy_(torch.tensor([1.0, weight]))
        self.stats_fitted.fill_(True)

    def setup(self, stage: str) -> None:
        dm = self.trainer.datamodule if self._trainer is not None else None
        if stage != "fit" or dm is None or getattr(dm, "feature_mean", None) is None:
            return
        if (dm.n_hosts, dm.n_features) != (self.hparams.n_hosts, self.hparams.n_features):
            raise ClassifierInputError(
                f"datamodule has (H, D) = {(dm.n_hosts, dm.n_features)}, the model was built for "
                f"{(self.hparams.n_hosts, self.hparams.n_features)}"
            )
        if getattr(dm, "window", self.hparams.window) != self.hparams.window:
            raise ClassifierInputError(
                f"datamodule window {dm.window} != model window {self.hparams.window}"
            )
        if self.uses_containers and not getattr(dm, "has_placement", False):
            raise ClassifierInputError(
                "classifier.input_features has 'containers' but the episodes have no placement"
            )
        if self.uses_demand and not getattr(dm, "has_demand", False):
            raise ClassifierInputError(
                "classifier.input_features has 'demand' but the episodes have no host_demand"
            )
        top = int(dm.splits["train"].fault_class.max())
        if top > self.hparams.n_classes:
            raise ClassifierInputError(
                f"training fault_class reaches {top}, the model has n_classes={self.hparams.n_classes}"
            )
        self.set_data_stats(dm.feature_mean, dm.feature_std, dm.faulty_fraction)

    # ---------------------------------------------------------------- forward and loss
    def forward(
        self,
        x: torch.Tensor,
        containers: torch.Tensor | None = None,
        demand: torch.Tensor | None = None,
    ) -> ClassifierTensors:
        """Raw windows x (B, W, H, D), containers and demand (B, W, H) -> logits (B, H, 2),
        embedding (B, H, E), dim_logits (B, H, D). containers and demand are needed only
        when read."""
        xn = (x - self.feature_mean) / self.feature_std  # (B, W, H, D)
        z = self.encoder(self._encoder_input(xn, containers, demand))  # (B, H, L)
        return ClassifierTensors(
            logits=self.anomaly_head(z),  # (B, H, 2)
            embedding=self.prototype_head(z),  # (B, H, E)
            dim_logits=self.diagnosis_head(z, xn),  # (B, H, D)
        )

    def _encoder_input(
        self, xn: torch.Tensor, containers: torch.Tensor | None, demand: torch.Tensor | None
    ) -> torch.Tensor:
        """Normalised windows (B, W, H, D) -> the chosen input features (B, W, H, F).

        A fault shows as a change on one host (a step up at onset, a drop to zero at a
        crash) that a bursting but healthy host need not show; deltas and the deviation from
        the cluster's mean hand those contrasts to the encoder directly. The containers
        channel says how much work the scheduler put there: full CPU on a host with little
        placed on it is suspect, on a crowded one it is not. The demand channel says how much
        CPU the placed containers asked for, which a count cannot: full CPU on a host whose
        containers asked for little is a hog, on one whose containers asked for it all is not.
        """
        if self.input_features == ("value",):
            return xn
        parts = []
        for name in self.input_features:
            if name == "value":
                parts.append(xn)
            elif name == "delta":
                parts.append(torch.diff(xn, dim=1, prepend=xn[:, :1]))  # (B, W, H, D)
            elif name == "cluster":
                parts.append(xn - xn.mean(dim=2, keepdim=True))  # (B, W, H, D)
            elif name == "containers":
                if containers is None:
                    raise ClassifierInputError(
                        "classifier reads 'containers' (input_features) but none were given"
                    )
                parts.append((containers.to(xn.dtype) - 1.0).unsqueeze(-1))  # (B, W, H, 1)
            else:
                if demand is None:
                    raise ClassifierInputError(
                        "classifier reads 'demand' (input_features) but none was given"
                    )
                parts.append(demand.to(xn.dtype).unsqueeze(-1))  # (B, W, H, 1)
        return torch.cat(parts, dim=-1)  # (B, W, H, F)

    def _losses(
        self, out: ClassifierTensors, faulty: torch.Tensor, cls: torch.Tensor, rc: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        hp = self.hparams
        mask = faulty.bool()  # (B, H)
        detect = anomaly_loss(out.logits.reshape(-1, 2), faulty.reshape(-1), self.class_weight)
        emb = out.embedding[mask]  # (M, E)
        pull, triplet = prototype_losses(
            emb, cls[mask] - 1, self.prototypes.vectors.clone(), hp.triplet_margin
        )
        diag = diagnosis_loss(out.dim_logits[mask], rc[mask])  # over (M, D)
        total = (
            hp.anomaly_weight * detect
            + hp.prototype_weight * pull
            + hp.triplet_weight * triplet
            + hp.diagnosis_weight * diag
        )
        return {
            "loss": total,
            "anomaly": detect,
            "prototype": pull,
            "triplet": triplet,
            "diagnosis": diag,
        }

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, faulty, cls, rc, cnt, dem = (
            batch  # (B, W, H, D), (B, H), (B, H), (B, H, D), 2x (B, W, H)
        )
        if not bool(self.stats_fitted):
            raise RuntimeError(
                "normalisation statistics not set: train with WindowDataModule or call set_data_stats"
            )
        out = self(x, cnt, dem)
        losses = self._losses(out, faulty, cls, rc)
        mask = faulty.bool()  # (B, H)
        self.prototypes.update(out.embedding[mask].detach(), cls[mask] - 1)
        self.train_loss(losses["loss"])
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log_dict(
            {f"train/{k}": v for k, v in losses.items() if k != "loss"},
            on_step=False,
            on_epoch=True,
        )
        return losses["loss"]

    # ---------------------------------------------------------------- evaluation
    def _diag_top1(
        self, dim_logits: torch.Tensor, rc: torch.Tensor, cls: torch.Tensor
    ) -> torch.Tensor:
        """1.0 where the top-ranked dimension is a root cause, over faulty hosts with one root cause."""
        single = (rc.sum(-1) == 1) & (cls > 0)  # (B, H)
        top = dim_logits.argmax(-1, keepdim=True)  # (B, H, 1)
        return rc.gather(-1, top).squeeze(-1)[single]  # (M,)

    def on_train_start(self) -> None:
        if self.trainer.ckpt_path is None:  # a resumed fit keeps its best so far
            self.val_f1_best.reset()  # the sanity check's values must not count

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, faulty, cls, rc, cnt, dem = batch
        out = self(x, cnt, dem)
        self.val_loss(self._losses(out, faulty, cls, rc)["loss"])
        prob = torch.softmax(out.logits, -1)[..., 1]  # (B, H)
        self.val_curve.update(prob.reshape(-1), faulty.reshape(-1))
        mask = faulty.bool()  # (B, H)
        if mask.any():
            self.val_class_acc.update(self.prototypes.classify(out.embedding[mask]), cls[mask] - 1)
        hits = self._diag_top1(out.dim_logits, rc, cls)  # (M,)
        if hits.numel():
            self.val_diag_top1.update(hits)

    def on_validation_epoch_end(self) -> None:
        precision, recall, thresholds = self.val_curve.compute()  # (T+1,), (T+1,), (T,)
        f1 = (
            2 * precision[:-1] * recall[:-1] / (precision[:-1] + recall[:-1]).clamp_min(1e-12)
        )  # (T,)
        f1 = torch.nan_to_num(f1, nan=0.0)  # (T,)
        best = int(torch.argmax(f1))
        self.threshold.fill_(float(thresholds[best]))
        self.val_f1_best(f1[best])
        self.log_dict(
            {
                "val/loss": self.val_loss.compute(),
                "val/f1": f1[best],
                "val/f1_best": self.val_f1_best.compute(),
                "val/threshold": self.threshold,
            },
            prog_bar=True,
        )
        if self.val_class_acc.update_count:
            self.log("val/class_acc", self.val_class_acc.compute(), prog_bar=True)
        if self.val_diag_top1.update_count:
            self.log("val/diag_top1", self.val_diag_top1.compute())
        for metric in (self.val_loss, self.val_curve, self.val_class_acc, self.val_diag_top1):
            metric.reset()

    def configure_optimizers(self) -> Any:
        factory = self.optimizer_factory or partial(torch.optim.AdamW, lr=1e-3, weight_decay=1e-5)
        optimizer = factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val/f1", "interval": "epoch"},
        }

    # ---------------------------------------------------------------- inference
    def _check_windows(self, windows: np.ndarray) -> None:
        hp = self.hparams
        expected = (hp.window, hp.n_hosts, hp.n_features)
        if (
            not isinstance(windows, np.ndarray)
            or windows.ndim != 4
            or windows.shape[1:] != expected
        ):
            shape = getattr(windows, "shape", type(windows).__name__)
            raise ClassifierInputError(
                f"windows: expected (B, W, H, D) with (W, H, D) = {expected} as in the checkpoint, got {shape}"
            )
        if not np.isfinite(windows).all():
            bad = np.argwhere(~np.isfinite(windows))[0]
            raise ClassifierInputError(
                f"windows: NaN or infinite value at index {tuple(int(i) for i in bad)}"
            )
        if not bool(self.stats_fitted):
            raise ClassifierInputError(
                "classifier has no normalisation statistics: fit it or load a checkpoint"
            )

    def _check_channel(self, name: str, values: np.ndarray | None, batch: int) -> np.ndarray | None:
        """A one-channel input ("containers" or "demand", (B, W, H)) where the model reads
        it, else None (ignored)."""
        if name not in self.input_features:
            return None
        hp = self.hparams
        expected = (batch, hp.window, hp.n_hosts)
        if values is None:
            what = "the placement" if name == "containers" else "the placed CPU demand"
            raise ClassifierInputError(
                f"{name}: this classifier reads {what} (input_features has '{name}'); pass "
                f"{name} of shape {expected}"
            )
        if not isinstance(values, np.ndarray) or values.shape != expected:
            shape = getattr(values, "shape", type(values).__name__)
            raise ClassifierInputError(f"{name}: expected shape {expected}, got {shape}")
        if not np.isfinite(values).all():
            raise ClassifierInputError(f"{name}: NaN or infinite value")
        return values

    def predict_windows(
        self,
        windows: np.ndarray,
        containers: np.ndarray | None = None,
        demand: np.ndarray | None = None,
    ) -> ClassifierOutput:
        """Verdicts for a batch of raw windows (B, W, H, D), with their containers and demand
        channels (B, W, H) where the model reads them; every field gains a leading B axis."""
        self._check_windows(windows)
        b = windows.shape[0]
        return self._predict(
            windows,
            self._check_channel("containers", containers, b),
            self._check_channel("demand", demand, b),
        )

    def predict_window(
        self,
        window: np.ndarray,
        containers: np.ndarray | None = None,
        demand: np.ndarray | None = None,
    ) -> ClassifierOutput:
        """Verdict for one raw window (W, H, D) (and containers, demand (W, H) where read):
        host_prob (H,), flags, embedding (H, E), ...

        One checked pass in PyTorch; a policy judging one window per interval uses
        `window_predictor` instead (the same verdicts, from an ONNX Runtime graph).
        """
        window, cnt, dem = self._checked_window(window, containers, demand)
        out = self._predict(window[None], cnt, dem)
        return ClassifierOutput(
            host_prob=out.host_prob[0],
            host_flags=out.host_flags[0],
            embedding=out.embedding[0],
            fault_class=out.fault_class[0],
            dim_scores=out.dim_scores[0],
        )

    def window_predictor(self) -> WindowPredictor:
        """`predict_window` for a policy's decision path: the same checks and verdicts (to
        float32 rounding), from an ONNX Runtime graph of the current weights (~4x faster at
        16 hosts; `pregan.models.components.onnx_graph`). A snapshot: training the
        classifier afterwards does not reach it, so build it once the classifier is fitted.
        Exporting takes about a second (three the first time in a process)."""
        return WindowPredictor(self)

    def _checked_window(
        self, window: np.ndarray, containers: np.ndarray | None, demand: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """One raw window (W, H, D) checked, and its channels as (1, W, H) where read."""
        if not isinstance(window, np.ndarray) or window.ndim != 3:
            shape = getattr(window, "shape", type(window).__name__)
            raise ClassifierInputError(f"window: expected (W, H, D), got {shape}")
        self._check_windows(window[None])
        cnt = None if containers is None else np.asarray(containers)[None]
        dem = None if demand is None else np.asarray(demand)[None]
        return (
            window,
            self._check_channel("containers", cnt, 1),
            self._check_channel("demand", dem, 1),
        )

    def verdict(
        self,
        x: torch.Tensor,
        containers: torch.Tensor | None = None,
        demand: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw windows x (B, W, H, D) -> faulty probability (B, H), embedding (B, H, E),
        nearest class 1..K (B, H), root-cause scores (B, H, D): what a decision reads."""
        out = self(x, containers, demand)
        prob = torch.softmax(out.logits, -1)[..., 1]  # (B, H)
        fault_class = self.prototypes.classify(out.embedding) + 1  # (B, H) 1..K
        return prob, out.embedding, fault_class, torch.sigmoid(out.dim_logits)

    def _predict(
        self, windows: np.ndarray, containers: np.ndarray | None, demand: np.ndarray | None
    ) -> ClassifierOutput:
        """Checked raw windows (B, W, H, D) -> verdicts; eval mode, no autograd bookkeeping.

        Mode switches walk every submodule, so they happen only when the module is in
        training mode (a policy's classifier is in eval mode for good). A float32 array
        is wrapped, not copied, on the CPU.
        """
        was_training = self.training
        if was_training:
            self.eval()
        try:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))
                x = x.to(self.device)  # (B, W, H, D); a no-op on the CPU
                cnt = None
                if containers is not None:
                    cnt = torch.from_numpy(np.ascontiguousarray(containers, dtype=np.float32))
                    cnt = cnt.to(self.device)  # (B, W, H)
                dem = None
                if demand is not None:
                    dem = torch.from_numpy(np.ascontiguousarray(demand, dtype=np.float32))
                    dem = dem.to(self.device)  # (B, W, H)
                verdict = (t.cpu().numpy() for t in self.verdict(x, cnt, dem))
                return _output(*verdict, threshold=float(self.threshold))
        finally:
            if was_training:
                self.train()

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, map_location: str | torch.device = "cpu"
    ) -> FaultClassifierModule:
        """Load a fitted classifier; a missing, unreadable or incomplete file raises a clear error."""
        path = Path(path)
        if not path.is_file():
            raise ClassifierCheckpointError(f"{path}: checkpoint file not found")
        try:
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:  # torch raises several types for truncated or foreign files
            raise ClassifierCheckpointError(
                f"{path}: not a readable checkpoint ({type(err).__name__}: {err})"
            ) from None
        if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
            raise ClassifierCheckpointError(f"{path}: missing 'state_dict' or 'hyper_parameters'")
        try:
            model = cls(**ckpt["hyper_parameters"])
            model.load_state_dict(ckpt["state_dict"], strict=True)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ClassifierCheckpointError(
                f"{path}: does not hold a FaultClassifierModule ({err})"
            ) from None
        if not bool(model.stats_fitted):
            raise ClassifierCheckpointError(
                f"{path}: saved before normalisation statistics were set"
            )
        model.eval()
        return model


class WindowPredictor:
    """One window's verdict from the classifier's ONNX graph (`window_predictor`); copies
    and pickles carry the graph."""

    def __init__(self, classifier: FaultClassifierModule) -> None:
        hp = classifier.hparams
        example = (
            torch.zeros(1, hp.window, hp.n_hosts, hp.n_features),  # (1, W, H, D)
            torch.zeros(1, hp.window, hp.n_hosts),  # containers (1, W, H)
            torch.zeros(1, hp.window, hp.n_hosts),  # demand (1, W, H)
        )
        self.classifier = classifier  # its input checks; the weights are the graph's
        # Unread channels are passed and ignored, so every classifier exports alike.
        self.graph = OnnxGraph(
            classifier.eval(), example, ("window", "containers", "demand"), method="verdict"
        )
        self.threshold = float(classifier.threshold)

    def __call__(
        self,
        window: np.ndarray,
        containers: np.ndarray | None = None,
        demand: np.ndarray | None = None,
    ) -> ClassifierOutput:
        window, cnt, dem = self.classifier._checked_window(window, containers, demand)
        unread = np.zeros((1, *window.shape[:2]), np.float32)  # (1, W, H), ignored
        verdict = self.graph(
            window=window[None],
            containers=unread if cnt is None else cnt,
            demand=unread if dem is None else dem,
        )
        return _output(*(a[0] for a in verdict), threshold=self.threshold)


def _output(
    prob: np.ndarray,
    embedding: np.ndarray,
    fault_class: np.ndarray,
    dim_scores: np.ndarray,
    threshold: float,
) -> ClassifierOutput:
    """`FaultClassifierModule.verdict`'s four arrays (any leading axes) as a ClassifierOutput,
    hosts flagged where the probability reaches the validation-chosen threshold."""
    return ClassifierOutput(
        host_prob=prob,
        host_flags=prob >= threshold,
        embedding=embedding,
        fault_class=fault_class,
        dim_scores=dim_scores,
    )
