"""OnnxGraph: exports a module once and runs it by input name; clear errors otherwise."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from pregan.models.components.onnx_graph import OnnxGraph, OnnxGraphError


class _Affine(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor, unused: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(x))


def test_graph_runs_by_name_and_ignores_unread_inputs() -> None:
    torch.manual_seed(0)
    module = _Affine().eval()
    graph = OnnxGraph(module, (torch.zeros(4, 3), torch.zeros(4)), ("x", "unused"))
    x = np.random.default_rng(0).normal(size=(4, 3))  # float64: cast to the example's float32
    (out,) = graph(x=x, unused=np.zeros(4))
    with torch.no_grad():
        ref = module(torch.from_numpy(x).float(), torch.zeros(4)).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-6)
    np.testing.assert_array_equal(graph(x=x, unused=np.ones(4))[0], out)
    copy = pickle.loads(pickle.dumps(graph))  # policies are copied (the Gymnasium adapter)
    np.testing.assert_array_equal(copy(x=x, unused=np.zeros(4))[0], out)


def test_bad_graphs_name_the_module() -> None:
    with pytest.raises(ValueError, match="2 example inputs but 1 names"):
        OnnxGraph(_Affine(), (torch.zeros(4, 3), torch.zeros(4)), ("x",))
    with pytest.raises(OnnxGraphError, match=r"_Affine.forward: ONNX export failed"):
        OnnxGraph(_Affine(), (torch.zeros(4, 5), torch.zeros(4)), ("x", "unused"))  # 5 != 3
