"""Published deep detectors and the random-score reference, in the shared detector recipe.

Both deep detectors are written from their papers (no code carried over) and trained the same
way as PreGAN's series detector: windows of the training head, min-max scaled on that head,
AdamW, batches of 256, a seeded shuffle, float32 on CPU, a fixed epoch budget; they are then
thresholded by the shared label-free `Thresholder` calibrated on the held-out train tail
(`CalibratedDetector`). Sizes are kept small so that seven SMD machines train in minutes on
one thread; they are the papers' architectures, not their exact widths.

- TranAD (Tuli, Casale & Jennings, VLDB 2022): a transformer encoder reads the window with a
  focus score, two decoders reconstruct the window's last row. Phase 1 runs with a zero
  focus; phase 2 feeds the first decoder's squared error back as the focus. Decoder 1 (with
  the encoder) minimises w ||O1 - x|| + (1 - w) ||O2^ - x||, decoder 2 minimises
  w ||O2 - x|| - (1 - w) ||O2^ - x|| (adversarial), w = 1/n at epoch n. Score per dimension:
  (|O1 - x|^2 + |O2^ - x|^2) / 2 of the last row.
- USAD (Audibert et al., KDD 2020): one MLP encoder, two MLP decoders on the flattened
  window; AE1 = D1(E(W)), AE2 = D2(E(W)). AE1 minimises w ||W - AE1|| + (1 - w)
  ||W - D2(E(AE1))||, AE2 minimises w ||W - AE2|| - (1 - w) ||W - D2(E(AE1))||, w = 1/n.
  Score per dimension: (|W - AE1|^2 + |W - D2(E(AE1))|^2) / 2, averaged over the window.
- `adversarial=False` (the shipped configs) turns the minus of each second loss into a plus,
  so both decoders minimise the phase-2 error, as the authors' released training loops do;
  chosen on the validation ground, where the min-max game left a score anti-correlated with
  the labels on one machine (conf/detector/tranad.yaml has the figures).
- Random scores: i.i.d. uniform, seeded; the floor any metric must be read against (random
  scores reach point-adjusted F1 ~0.76 on SMD, Garg et al., TNNLS 2021).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pregan.models.detectors.series_detectors import (
    CalibratedDetector,
    ThresholdSpec,
    trailing_mean,
)
from pregan.models.detectors.training import epoch_order


class RandomScoreDetector(CalibratedDetector):
    """Uniform random scores and dim_scores, thresholded like every other detector."""

    name = "random"

    def __init__(
        self,
        seed: int = 0,
        calib_fraction: float = 0.2,
        thresholding: ThresholdSpec = None,
    ) -> None:
        self.seed = seed
        super().__init__(calib_fraction, thresholding)

    def _fit_head(self, head: np.ndarray) -> None:
        """Nothing to learn."""

    def _score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, x.shape[0]])  # calibration and test differ
        dim = rng.random(x.shape, dtype=np.float32)  # (T, D)
        return rng.random(x.shape[0]), dim  # (T,), (T, D)


def padded_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """(T, D) -> (T, W, D): the window ending at each row, the first rows edge-padded."""
    pad = x[:1].expand(window - 1, -1)
    return torch.cat([pad, x]).unfold(0, window, 1).transpose(1, 2)  # (T, W, D)


class WindowReconstructionDetector(CalibratedDetector):
    """Shared training and scoring of windowed reconstruction detectors (TranAD, USAD).

    Subclasses build the network (`_build`), give the per-batch losses of their optimisers
    (`_losses`) and the per-dimension error of each window (`_errors`). Each score is the
    error of the window ending at that row, so row t is judged from rows t-W+1..t.
    """

    name = "window_reconstruction"
    disjoint_groups = False  # see `_step`

    def __init__(
        self,
        window: int = 10,
        latent: int = 32,
        epochs: int = 10,
        windows_per_epoch: int = 0,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        smooth: int = 5,
        seed: int = 0,
        calib_fraction: float = 0.2,
        thresholding: ThresholdSpec = None,
        adversarial: bool = True,
        scale_floor: float = 1e-2,
    ) -> None:
        if window < 1 or epochs < 1 or batch_size < 1:
            raise ValueError(
                f"{self.name}: window, epochs, batch_size must be >= 1, got "
                f"{window}, {epochs}, {batch_size}"
            )
        self.window, self.latent, self.epochs = window, latent, epochs
        self.windows_per_epoch = windows_per_epoch
        self.batch_size, self.lr, self.weight_decay = batch_size, lr, weight_decay
        self.smooth, self.seed = smooth, seed
        # True: the papers' min-max game (decoder 2 maximises the phase-2 error); False: both
        # decoders minimise it, the form the authors' released training loops use
        self.adversarial = adversarial
        # min-max span floor, as the other references' `scale_floor`: a metric flat in training
        # that moves later would otherwise dominate every error by orders of magnitude
        self.scale_floor = scale_floor
        super().__init__(calib_fraction, thresholding)
        self.progress = False  # the benchmark turns on the epoch bar
        self.train_losses: list[float] = []  # mean first loss per epoch
        self._net: nn.Module | None = None
        self._optimisers: list[torch.optim.Optimizer] = []
        self._lo: np.ndarray | None = None  # (D,) min of the training head
        self._span: np.ndarray | None = None  # (D,) max - min, floored

    @property
    def _adv_sign(self) -> float:
        return -1.0 if self.adversarial else 1.0

    def _build(self, n_dims: int) -> nn.Module:
        raise NotImplementedError

    def _param_groups(self, net: nn.Module) -> list[list[nn.Parameter]]:
        """Parameters of each optimiser, in the order `_losses` returns their losses."""
        raise NotImplementedError

    def _losses(self, net: nn.Module, w: torch.Tensor, epoch: int) -> list[torch.Tensor]:
        raise NotImplementedError

    def _errors(self, net: nn.Module, w: torch.Tensor) -> torch.Tensor:
        """Per-dimension error (B, D) of windows w (B, W, D)."""
        raise NotImplementedError

    def _scale(self, x: np.ndarray) -> torch.Tensor:
        assert self._lo is not None and self._span is not None
        return torch.from_numpy(((x - self._lo) / self._span).astype(np.float32))

    def _fit_head(self, head: np.ndarray) -> None:
        self._lo = head.min(axis=0)
        self._span = np.maximum(head.max(axis=0) - self._lo, self.scale_floor).astype(np.float32)
        windows = padded_windows(self._scale(head), self.window)  # (M, W, D)
        # the whole fit under its own seed: initialisation and dropout draw from it, and the
        # caller's global RNG is left as it was
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._train(windows, head.shape[1])

    def _train(self, windows: torch.Tensor, n_dims: int) -> None:
        """Build the network and train it on windows (M, W, D) for `epochs`."""
        self._net = self._build(n_dims)
        self._optimisers = [
            torch.optim.AdamW(group, lr=self.lr, weight_decay=self.weight_decay)
            for group in self._param_groups(self._net)
        ]
        gen = torch.Generator().manual_seed(self.seed)
        self._net.train()
        bar = tqdm(
            range(1, self.epochs + 1),
            desc=f"{self.name} epochs",
            leave=False,
            disable=not self.progress,
        )
        for epoch in bar:
            order = epoch_order(windows.shape[0], self.windows_per_epoch, gen)
            total = 0.0
            for i in range(0, order.shape[0], self.batch_size):
                batch = windows[order[i : i + self.batch_size]]  # (B, W, D)
                first = self._step(batch, epoch)
                total += first * batch.shape[0]
            self.train_losses.append(total / order.shape[0])
            bar.set_postfix(loss=f"{self.train_losses[-1]:.4g}")

    def _step(self, batch: torch.Tensor, epoch: int) -> float:
        """One update of every optimiser on a batch; returns the first loss.

        With `disjoint_groups` (the optimisers own disjoint parameters) one forward pass serves
        all losses, each differentiated into its own group only. Otherwise the papers'
        alternating updates: each optimiser steps on its own loss, recomputed after the
        previous step (a shared encoder gets both updates).
        """
        assert self._net is not None
        groups = self._param_groups(self._net)
        if self.disjoint_groups:
            losses = self._losses(self._net, batch, epoch)
            for k, (group, opt) in enumerate(zip(groups, self._optimisers, strict=True)):
                grads = torch.autograd.grad(losses[k], group, retain_graph=True, allow_unused=True)
                for p, g in zip(group, grads, strict=True):
                    p.grad = g
                opt.step()
            return float(losses[0].detach())
        first = 0.0
        for k, opt in enumerate(self._optimisers):
            losses = self._losses(self._net, batch, epoch)
            self._net.zero_grad(set_to_none=True)
            losses[k].backward()
            opt.step()
            first = float(losses[0].detach()) if k == 0 else first
        return first

    @torch.no_grad()
    def _score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._net is not None
        self._net.eval()
        windows = padded_windows(self._scale(x), self.window)  # (T, W, D)
        errs = [
            self._errors(self._net, windows[i : i + 4096]) for i in range(0, len(windows), 4096)
        ]
        dim = trailing_mean(torch.cat(errs).numpy(), self.smooth)  # (T, D)
        return dim.mean(axis=1), dim  # (T,), (T, D)


class _TranAD(nn.Module):
    """Encoder over [window, focus] and two decoders of the last row (Tuli et al., Fig. 2)."""

    def __init__(self, n_dims: int, window: int, d_model: int, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Linear(2 * n_dims, d_model)
        self.position = nn.Parameter(torch.randn(1, window, d_model) * 0.02)  # learned
        self.encoder = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=d_model, dropout=0.1, batch_first=True
        )
        self.decoders = nn.ModuleList(
            nn.TransformerDecoderLayer(
                d_model, heads, dim_feedforward=d_model, dropout=0.1, batch_first=True
            )
            for _ in range(2)
        )
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(d_model, n_dims), nn.Sigmoid()) for _ in range(2)
        )

    def forward(self, w: torch.Tensor, focus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """w, focus (B, W, D) -> reconstructions of the last row by decoders 1 and 2: (B, D) x 2."""
        h = self.embed(torch.cat([w, focus], dim=-1)) + self.position  # (B, W, d_model)
        memory = self.encoder(h)  # (B, W, d_model)
        target = h[:, -1:]  # (B, 1, d_model) the window's last row attends to the encoding
        outs = [
            head(dec(target, memory)[:, 0])
            for dec, head in zip(self.decoders, self.heads, strict=True)
        ]
        return outs[0], outs[1]


class TranADDetector(WindowReconstructionDetector):
    """TranAD's two-phase adversarial transformer (module doc); window 10 as in the paper."""

    name = "tranad"
    disjoint_groups = True  # encoder + decoder 1 against decoder 2

    def _build(self, n_dims: int) -> nn.Module:
        return _TranAD(n_dims, self.window, self.latent)

    def _param_groups(self, net: nn.Module) -> list[list[nn.Parameter]]:
        assert isinstance(net, _TranAD)
        first = [*net.embed.parameters(), net.position, *net.encoder.parameters()]
        first += [*net.decoders[0].parameters(), *net.heads[0].parameters()]
        second = [*net.decoders[1].parameters(), *net.heads[1].parameters()]
        return [first, second]

    @staticmethod
    def _phases(net: nn.Module, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        o1, o2 = net(w, torch.zeros_like(w))  # phase 1: (B, D) x 2
        focus = ((o1 - w[:, -1]) ** 2).unsqueeze(1).expand_as(w)  # (B, W, D)
        _, o2_hat = net(w, focus)  # phase 2 (self-conditioning)
        return o1, o2, o2_hat

    def _losses(self, net: nn.Module, w: torch.Tensor, epoch: int) -> list[torch.Tensor]:
        o1, o2, o2_hat = self._phases(net, w)
        x = w[:, -1]  # (B, D)
        weight = 1.0 / epoch
        adv = nn.functional.mse_loss(o2_hat, x)
        loss1 = weight * nn.functional.mse_loss(o1, x) + (1 - weight) * adv
        loss2 = weight * nn.functional.mse_loss(o2, x) + self._adv_sign * (1 - weight) * adv
        return [loss1, loss2]

    def _errors(self, net: nn.Module, w: torch.Tensor) -> torch.Tensor:
        o1, _, o2_hat = self._phases(net, w)
        x = w[:, -1]
        return 0.5 * (o1 - x) ** 2 + 0.5 * (o2_hat - x) ** 2  # (B, D)


class _USAD(nn.Module):
    """MLP encoder and two MLP decoders over the flattened window (Audibert et al., Fig. 2)."""

    def __init__(self, n_in: int, latent: int) -> None:
        super().__init__()
        h1, h2 = max(n_in // 2, latent), max(n_in // 4, latent)
        self.encoder = nn.Sequential(
            nn.Linear(n_in, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, latent)
        )

        def decoder() -> nn.Module:
            return nn.Sequential(
                nn.ReLU(), nn.Linear(latent, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(),
                nn.Linear(h1, n_in), nn.Sigmoid(),
            )  # fmt: skip

        self.decoder1, self.decoder2 = decoder(), decoder()

    def forward(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """flat (B, W*D) -> AE1(W), AE2(W), AE2(AE1(W)), each (B, W*D)."""
        z = self.encoder(flat)
        ae1 = self.decoder1(z)
        return ae1, self.decoder2(z), self.decoder2(self.encoder(ae1))


class USADDetector(WindowReconstructionDetector):
    """USAD's adversarially trained twin autoencoders (module doc); window 5 as in its SMD runs."""

    name = "usad"

    def _build(self, n_dims: int) -> nn.Module:
        return _USAD(self.window * n_dims, self.latent)

    def _param_groups(self, net: nn.Module) -> list[list[nn.Parameter]]:
        assert isinstance(net, _USAD)
        enc = list(net.encoder.parameters())
        return [enc + list(net.decoder1.parameters()), enc + list(net.decoder2.parameters())]

    def _losses(self, net: nn.Module, w: torch.Tensor, epoch: int) -> list[torch.Tensor]:
        flat = w.flatten(1)  # (B, W*D)
        ae1, ae2, ae2_ae1 = net(flat)
        weight = 1.0 / epoch
        adv = nn.functional.mse_loss(ae2_ae1, flat)
        loss1 = weight * nn.functional.mse_loss(ae1, flat) + (1 - weight) * adv
        loss2 = weight * nn.functional.mse_loss(ae2, flat) + self._adv_sign * (1 - weight) * adv
        return [loss1, loss2]

    def _errors(self, net: nn.Module, w: torch.Tensor) -> torch.Tensor:
        flat = w.flatten(1)
        ae1, _, ae2_ae1 = net(flat)
        err = 0.5 * (ae1 - flat) ** 2 + 0.5 * (ae2_ae1 - flat) ** 2  # (B, W*D)
        return err.view(w.shape).mean(dim=1)  # (B, D)
