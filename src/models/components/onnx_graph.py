"""A module's inference pass as an ONNX Runtime session: the policies' per-decision path.

Why: at 16 hosts one PreGAN decision is some 250 tensor operations on tensors of a few
hundred numbers, so PyTorch's per-operation dispatch, not arithmetic, is its cost. ONNX
Runtime runs the same exported graph with a fraction of that overhead. Measured with
`benchmarks/bench_pregan.py` (1 thread, H = 16, worst case): the classifier's forward
0.48 -> 0.12 ms, the whole decision 1.35-1.64 -> 0.71 ms of CPU time (README, "Speed").
TorchScript freezing was measured too (0.13 ms saved of the decision; TorchScript is
deprecated in PyTorch) and torch.compile was slower than eager at this size (its guards).

A graph is a snapshot: it holds the weights of the moment it was exported, with the input
shapes of the example it was exported from. Callers export it where the weights no longer
change (a policy of a fitted model) and drop it when they train again. Batched passes
(training, evaluating many windows) stay in PyTorch. Outputs equal PyTorch's to float32
rounding (~1e-7); tests/models/test_onnx_graph.py checks each graph the policies export.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort
import torch
from torch import nn


class OnnxGraphError(RuntimeError):
    """A module that could not be exported or loaded as an ONNX graph; names the module."""


class OnnxGraph:
    """`module.<method>(*example)` exported once; call it with NumPy arrays by input name.

    Args:
        module: the network, in eval mode (its weights are copied into the graph).
        example: example inputs; the graph is specialised to their shapes and dtypes.
        input_names: one name per example input; `__call__` takes them as keywords.
            An input the graph does not read is accepted and ignored.
        method: which of the module's methods to export (`forward` by default), e.g. a
            classifier's `verdict` or the discriminator's `judge_moves`.
    """

    def __init__(
        self,
        module: nn.Module,
        example: Sequence[torch.Tensor],
        input_names: Sequence[str],
        method: str = "forward",
    ) -> None:
        if len(example) != len(input_names):
            raise ValueError(
                f"OnnxGraph: {len(example)} example inputs but {len(input_names)} names"
            )
        name = f"{type(module).__name__}.{method}"
        if method != "forward":
            module = _MethodAsForward(module, method)
        try:
            with warnings.catch_warnings(), _quiet_exporter():
                warnings.simplefilter("ignore")
                program = torch.onnx.export(
                    module,
                    tuple(example),
                    dynamo=True,
                    # ONNX Runtime optimises the graph when it loads it; the exporter's own
                    # pass only added export time (0.6 -> 0.9 s for the generator).
                    optimize=False,
                    verbose=False,
                    input_names=list(input_names),
                )
            model = program.model_proto.SerializeToString()
        except Exception as err:  # the exporter raises many types
            raise OnnxGraphError(
                f"{name}: ONNX export failed ({type(err).__name__}: {err})"
            ) from err
        self._name, self._model = name, model
        self._dtypes = {n: t.numpy().dtype for n, t in zip(input_names, example, strict=True)}
        self._open()

    def _open(self) -> None:
        options = ort.SessionOptions()
        # One thread: the graphs are tiny, so a thread pool would only add synchronisation,
        # and the runner's own parallelism (Hydra/joblib jobs) stays in charge of the cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only
        try:
            self._session = ort.InferenceSession(
                self._model, options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:
            raise OnnxGraphError(
                f"{self._name}: ONNX Runtime could not load the graph ({err})"
            ) from err
        self.inputs = tuple(i.name for i in self._session.get_inputs())  # the ones it reads

    def __getstate__(self) -> dict[str, object]:
        """Copies and pickles carry the serialised graph; the session is reopened from it."""
        return {"_name": self._name, "_model": self._model, "_dtypes": self._dtypes}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._open()

    def __call__(self, **arrays: np.ndarray) -> list[np.ndarray]:
        """Run the graph; arrays by input name (each cast to its example's dtype)."""
        feed = {n: np.ascontiguousarray(arrays[n], dtype=self._dtypes[n]) for n in self.inputs}
        return self._session.run(None, feed)


class _MethodAsForward(nn.Module):
    """A module whose forward is another module's `method`: what the exporter traces."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.inner, self.method = module, method

    def forward(self, *inputs: torch.Tensor) -> object:
        return getattr(self.inner, self.method)(*inputs)


class _quiet_exporter:
    """Silence the exporter's INFO/WARNING logging (torchvision-less registry notes, the
    passes it applies) for the duration of one export."""

    _loggers = ("torch", "onnxscript", "onnx_ir")

    def __enter__(self) -> None:
        self._levels = []
        for name in self._loggers:
            logger = logging.getLogger(name)
            self._levels.append(logger.level)
            logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for name, level in zip(self._loggers, self._levels, strict=True):
            logging.getLogger(name).setLevel(level)
