"""A training step recorded once as a CUDA graph and replayed: what makes small models fast
on a GPU.

A step of this course's models (forward, loss, backward, Adam) is a hundred or so tiny GPU
kernels. Each launch costs the CPU several microseconds, more than the kernel itself runs, so
on a GPU a step costs about 1-3 ms whatever the model: the GPU waits for Python. A CUDA
graph records the kernels of one step once; a replay launches them all with one call.

:class:`GraphedStep` wraps a step function ``step(idx) -> losses`` (``idx``: the indices of a
batch in the training tensors, see :func:`aecourse.train.fit`):

1. the first ``warmup`` steps run as usual (eagerly) on a side stream, as graph capture
   requires (libraries set themselves up on first use);
2. the next step is recorded into a graph, reading its batch indices from a fixed tensor;
3. every later batch of the same size copies its indices into that tensor and replays the
   graph. A batch of another size (the last, smaller one of an epoch) runs eagerly.

The optimizer must be ``capturable`` (see :func:`aecourse.train.make_optimizer`), and the
step must not synchronise with the CPU (no ``.item()``, no ``print`` of a tensor, no boolean
mask indexing). If recording fails anyway, the step warns once and runs eagerly from then
on: slower, never wrong. Replays are counted into the lesson's optimizer steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from aecourse import results

# Adam warns when a capturable instance steps outside a graph: the warm-up and last batches do.
_EAGER_CAPTURABLE_WARNING = r"This instance was constructed with capturable=True"


def graphs_available(device: torch.device, optimizer: torch.optim.Optimizer) -> bool:
    """CUDA graphs need a CUDA device and an optimizer whose every group is capturable."""
    return device.type == "cuda" and all(g.get("capturable") for g in optimizer.param_groups)


class GraphedStep:
    """Run ``step(idx)`` eagerly for ``warmup`` batches, then record it once and replay it."""

    def __init__(
        self,
        step: Callable[[torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        idx_shape: tuple[int, ...],
        device: torch.device,
        warmup: int = 3,
    ):
        self.step = step
        self.optimizer = optimizer
        self.warmup = warmup
        self.static_idx = torch.zeros(idx_shape, dtype=torch.long, device=device)
        self.stream = torch.cuda.Stream(device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_out: torch.Tensor | None = None
        self.failed = False
        self.full_steps = 0

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        """One optimizer step on the batch at ``idx``; returns its loss parts (a new tensor)."""
        if self.failed or idx.shape != self.static_idx.shape:
            return self._eager(idx)
        self.full_steps += 1
        if self.graph is None and self.full_steps <= self.warmup:
            self.stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.stream):
                out = self._eager(idx)
            torch.cuda.current_stream().wait_stream(self.stream)
            return out
        self.static_idx.copy_(idx)
        if self.graph is None and not self._record():
            return self._eager(idx)
        self.graph.replay()
        results.count_steps(1)  # a replay calls no optimizer.step(), so it counts itself
        return self.static_out.clone()

    def _eager(self, idx: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_EAGER_CAPTURABLE_WARNING)
            return self.step(idx)

    def _record(self) -> bool:
        """Record one step into a graph (nothing runs yet); on failure, warn and stay eager."""
        # Gradients are allocated inside the capture, from the graph's own memory, so that
        # every replay writes them to the same place the recorded Adam step reads them from.
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self.stream):
                self.static_out = self.step(self.static_idx)
        except Exception as err:  # a step that cannot be recorded still trains, eagerly
            self.failed = True
            self.optimizer.zero_grad(set_to_none=True)
            torch.cuda.synchronize()
            warnings.warn(
                f"Could not record the training step as a CUDA graph ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}); training goes on without "
                "one, more slowly. A step that synchronises with the CPU (.item(), printing a "
                "tensor, boolean-mask indexing) cannot be recorded.",
                stacklevel=3,
            )
            return False
        self.graph = graph
        return True
