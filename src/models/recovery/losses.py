"""Losses of the fault classifier: weighted anomaly CE, prototype pull, triplet, diagnosis BCE.

All take flat batches (one row per host-window) and return scalar float32 tensors; a loss over
an empty selection (a batch without faulty hosts) is an exact zero that keeps the graph.
"""

from __future__ import annotations

import torch
from torch import nn


def anomaly_loss(
    logits: torch.Tensor, faulty: torch.Tensor, class_weight: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy weighted for imbalance. logits (M, 2), faulty (M,) long, class_weight (2,)."""
    return nn.functional.cross_entropy(logits, faulty, weight=class_weight)


def prototype_losses(
    emb: torch.Tensor, target: torch.Tensor, prototypes: torch.Tensor, margin: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pull, triplet) for faulty embeddings emb (M, E) of 0-based classes target (M,).

    Pull: mean squared distance of an embedding to its class prototype (K, E).
    Triplet: mean over the other prototypes of relu(d(e, p_y) - d(e, p_k) + margin), the
    original's pull-toward, push-from loss. Both are bounded pushes: an unbounded one (a
    softmax over distances) drove sigmoid embeddings into the corners of [0, 1]^E, where the
    moving-average prototypes followed and merged. Prototypes are constants here (no gradient).
    """
    if emb.shape[0] == 0:
        zero = emb.sum() * 0.0
        return zero, zero
    protos = prototypes.detach()  # (K, E)
    d2 = ((emb.unsqueeze(1) - protos.unsqueeze(0)) ** 2).sum(-1)  # (M, K)
    positive = d2.gather(1, target.unsqueeze(1))  # (M, 1)
    others = ~nn.functional.one_hot(target, protos.shape[0]).bool()  # (M, K)
    hinge = torch.relu(positive - d2 + margin) * others  # (M, K)
    triplet = hinge.sum() / others.sum()
    return positive.mean(), triplet


def diagnosis_loss(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """BCE of root-cause logits (M, F) against the injected root-cause set truth (M, F) in {0, 1}."""
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    return nn.functional.binary_cross_entropy_with_logits(logits, truth)
