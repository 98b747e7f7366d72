"""What the learned series detectors share in training, so that they are trained the same way."""

from __future__ import annotations

import torch


def epoch_order(n: int, per_epoch: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of the training windows seen in one epoch: a seeded shuffle, cut at `per_epoch`.

    `per_epoch` 0 sees every window. A cap bounds the cost of an epoch whatever the series
    length (an SMD machine has ~19k training windows, consecutive ones nearly identical), so
    that fitting time degrades gracefully on a long series or a busy machine.
    """
    if per_epoch < 0:
        raise ValueError(f"windows_per_epoch: expected >= 0, got {per_epoch}")
    order = torch.randperm(n, generator=generator)
    return order if per_epoch == 0 else order[:per_epoch]
