"""Encoders, heads, prototypes and losses of the fault classifier: shapes, equivalence, seeds."""

from __future__ import annotations

import pytest
import torch

from pregan.models.components.encoder import FPEEncoder, StarGAT
from pregan.models.components.heads import AnomalyHead, DiagnosisHead, PrototypeHead
from pregan.models.components.linear_encoder import LinearEncoder
from pregan.models.recovery.losses import anomaly_loss, diagnosis_loss, prototype_losses
from pregan.models.recovery.prototypes import PrototypeBank


@pytest.mark.parametrize("encoder_cls", [FPEEncoder, LinearEncoder])
@pytest.mark.parametrize(("n", "f", "w"), [(5, 4, 3), (1, 38, 10), (16, 4, 5)])
def test_encoder_maps_window_to_per_entity_latent(encoder_cls, n, f, w):
    torch.manual_seed(0)
    enc = encoder_cls(f, w, 10, 2, 2)
    z = enc(torch.randn(3, w, n, f))
    assert z.shape == (3, n, 10)
    assert z.dtype == torch.float32


def test_every_fpe_parameter_receives_gradient():
    torch.manual_seed(0)
    enc = FPEEncoder(4, 3, 10, 2, 2)
    enc(torch.randn(2, 3, 6, 4)).pow(2).sum().backward()
    missing = [
        name for name, p in enc.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert missing == []


def test_fpe_is_deterministic_under_seed():
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        enc = FPEEncoder(4, 3, 10, 2)
        x = torch.randn(2, 3, 5, 4)
        outs.append(enc(x))
    assert torch.equal(outs[0], outs[1])


def test_hosts_interact_through_self_attention_only_in_fpe():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 4)
    y = x.clone()
    y[:, :, 3] += 5.0  # change host 3 only
    fpe, lin = FPEEncoder(4, 3, 10, 2), LinearEncoder(4, 3, 10)
    assert not torch.allclose(fpe(x)[:, 0], fpe(y)[:, 0])  # host 0 reads the cluster context
    assert torch.allclose(lin(x)[:, 0], lin(y)[:, 0])


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"heads": 3}, "divisible"), ({"latent": 0}, "latent")]
)
def test_bad_encoder_sizes_are_rejected(kwargs, match):
    args = {"n_features": 4, "window": 3, "latent": 10, "heads": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        FPEEncoder(**args)


def test_encoder_rejects_wrong_window_or_features():
    with pytest.raises(ValueError, match="expected W=3, F=4"):
        FPEEncoder(4, 3, 10, 2)(torch.randn(1, 3, 2, 5))


def test_star_gat_equals_torch_geometric_gatconv():
    gatconv = pytest.importorskip("torch_geometric.nn").GATConv
    torch.manual_seed(0)
    f, w, heads, m = 5, 3, 2, 4
    star = StarGAT(w, w, heads)
    conv = gatconv(w, w, heads=heads, add_self_loops=False)
    with torch.no_grad():
        conv.lin.weight.copy_(star.proj.weight)
        conv.att_src.copy_(star.att_src[None])
        conv.att_dst.copy_(star.att_dst[None])
        conv.bias.copy_(star.bias)
    src, dst = [f], [f]  # hub self-loop
    for i in range(f):
        src += [i, f, i]  # self-loop, hub -> i, i -> hub
        dst += [i, i, f]
    edges = torch.tensor([src, dst])  # (2, E)
    batch_edges = torch.cat([edges + k * (f + 1) for k in range(m)], dim=1)  # (2, m*E)
    x = torch.randn(m, f + 1, w)
    expected = conv(x.reshape(m * (f + 1), w), batch_edges).view(m, f + 1, -1)
    assert torch.allclose(star(x), expected, atol=1e-5)


def test_heads_shapes_and_ranges():
    z = torch.randn(2, 5, 10)
    x = torch.randn(2, 3, 5, 4)
    assert AnomalyHead(10)(z).shape == (2, 5, 2)
    emb = PrototypeHead(10, 2)(z)
    assert emb.shape == (2, 5, 2) and emb.min() >= 0 and emb.max() <= 1
    assert DiagnosisHead(10, 4)(z, x).shape == (2, 5, 4)


def test_prototype_update_moves_only_correctly_placed_classes():
    bank = PrototypeBank(3, 2, momentum=0.5, decay=0.5)
    start = bank.vectors.clone()
    emb = start[[0, 1]] + 0.01  # near prototypes 0 and 1
    bank.update(emb, torch.tensor([0, 2]))  # the second is labelled 2 but nearest 1: ignored
    assert torch.allclose(bank.vectors[0], start[0] + 0.005)
    assert torch.equal(bank.vectors[1:], start[1:])
    assert bank.factor == pytest.approx(0.25)  # momentum * decay ** steps


def test_prototype_losses_vanish_when_separated_and_on_empty_batch():
    protos = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    pull, triplet = prototype_losses(protos.clone(), torch.tensor([0, 1]), protos, margin=0.1)
    assert pull == 0 and triplet == 0
    pull, triplet = prototype_losses(protos.flip(0), torch.tensor([0, 1]), protos, margin=0.1)
    assert pull == pytest.approx(2.0) and triplet > 1.9
    empty = torch.zeros(0, 2, requires_grad=True)
    pull, triplet = prototype_losses(empty, torch.zeros(0, dtype=torch.long), protos, 0.1)
    assert pull == 0 and triplet == 0 and pull.requires_grad
    assert diagnosis_loss(torch.zeros(0, 4), torch.zeros(0, 4)) == 0


def test_anomaly_loss_weights_the_faulty_class():
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 0.0]])
    target = torch.tensor([0, 0, 1])
    plain = anomaly_loss(logits, target, torch.tensor([1.0, 1.0]))
    weighted = anomaly_loss(logits, target, torch.tensor([1.0, 5.0]))
    assert weighted > plain  # the misclassified faulty row counts five times
