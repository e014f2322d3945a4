"""Milliseconds per optimizer step of each lesson's models: a textbook step vs ``fit``'s step.

Per model, at the batch size its lesson trains with, three ways to take the same step:

* textbook: ``torch.optim.Adam`` with its defaults and ``loss.item()`` after every step, as
  Lesson 01's hand-written loop does (the CPU waits for the GPU once per step);
* fit, eager: :class:`aecourse.train.TrainStep`, the step of ``fit``: the Adam of
  ``make_optimizer`` (fused on CUDA) and the losses left on the device;
* fit, graph (CUDA only): the same step recorded once as a CUDA graph and replayed
  (:class:`aecourse.cuda_graphs.GraphedStep`), what ``fit`` does on a GPU.

The batches are random indices into random data of the right shape on the device; each
variant warms up (and records its graph), then the median of 3 timings of ``--steps`` steps
is reported. Goal on an H100-class GPU: the VAE step at batch 64 at most 0.5 ms.

    .venv/bin/python benchmarks/step.py                       # MNIST models, on the CPU
    .venv/bin/python benchmarks/step.py --device cuda         # every model, on the GPU
    .venv/bin/python benchmarks/step.py --models conv150 skip-lab150 --steps 3   # CPU, slow

Writes ``benchmarks/results/step-<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from functools import partial
from pathlib import Path

import torch

from aecourse.cuda_graphs import GraphedStep
from aecourse.losses import vae_loss
from aecourse.models import (
    VAE,
    ColorAutoEncoder,
    ConvColorizer,
    DenoisingAutoencoder,
    LinearAutoencoder,
)
from aecourse.noise import gaussian_noise
from aecourse.profiles import choose_device
from aecourse.results import device_name
from aecourse.train import TrainStep, make_optimizer, mse_loss, seed_everything

MNIST, PHOTO = (1, 28, 28), (1, 150, 150)
# name: (model, loss, batch size, input shape, target channels, corrupt, mixed precision)
MODELS = {
    "linear32": (lambda: LinearAutoencoder(32), mse_loss, 64, MNIST, 1, None, False),
    "dae": (DenoisingAutoencoder, mse_loss, 64, MNIST, 1, partial(gaussian_noise, std=0.5), False),
    "vae400": (lambda: VAE(20, (400,)), vae_loss, 64, MNIST, 1, None, False),
    "vae512-256": (lambda: VAE(20, (512, 256)), vae_loss, 64, MNIST, 1, None, False),
    "conv150": (ConvColorizer, mse_loss, 32, PHOTO, 3, None, True),
    "skip-lab150": (lambda: ColorAutoEncoder(2), mse_loss, 32, PHOTO, 2, None, True),
}
LESSON = {
    "linear32": "01",
    "dae": "02",
    "vae400": "03 quick",
    "vae512-256": "03 full",
    "conv150": "04 full",
    "skip-lab150": "05 full",
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def make(name: str, device: torch.device):
    """A fresh model, its optimizer, data on the device and its step arguments."""
    build, loss_fn, batch, shape, out_channels, corrupt, amp = MODELS[name]
    seed_everything(0)
    model = build().to(device)
    mixed = amp and device.type == "cuda"
    if mixed:
        model = model.to(memory_format=torch.channels_last)
    n = 8 * batch
    inputs = torch.rand(n, *shape, device=device)
    targets = (
        inputs if out_channels == 1 else torch.rand(n, out_channels, *shape[1:], device=device)
    )
    return model, loss_fn, batch, inputs, targets, corrupt, mixed


def timed(step, batch: int, n_data: int, steps: int, device: torch.device) -> float:
    """Median milliseconds per step over 3 runs of ``steps`` steps (after ``steps`` warm-up)."""
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, n_data, (steps * 4, batch), generator=gen).to(device)
    for i in range(steps):  # warm-up: allocator, kernels, the graph's recording
        step(idx[i])
    runs = []
    for r in range(1, 4):
        sync(device)
        start = time.perf_counter()
        for i in range(r * steps, (r + 1) * steps):
            step(idx[i])
        sync(device)
        runs.append((time.perf_counter() - start) / steps * 1e3)
    return statistics.median(runs)


def bench(name: str, device: torch.device, steps: int) -> dict:
    row = {"model": name, "lesson": LESSON[name], "batch_size": MODELS[name][2]}

    model, loss_fn, batch, inputs, targets, corrupt, mixed = make(name, device)
    textbook_adam = torch.optim.Adam(model.parameters(), lr=1e-3)

    def textbook(idx):
        x = inputs[idx]
        x = corrupt(x) if corrupt else x
        with torch.autocast(device.type, torch.bfloat16, enabled=mixed):
            loss = loss_fn(model(x), targets[idx])
            loss = loss["loss"] if isinstance(loss, dict) else loss
        textbook_adam.zero_grad()
        loss.backward()
        textbook_adam.step()
        return loss.item()

    row["textbook_ms"] = round(timed(textbook, batch, len(inputs), steps, device), 3)

    model, loss_fn, batch, inputs, targets, corrupt, mixed = make(name, device)
    optimizer = make_optimizer(model.parameters(), lr=1e-3)
    step = TrainStep(model, optimizer, inputs, targets, loss_fn=loss_fn, corrupt=corrupt,
                     mixed_precision=mixed)  # fmt: skip
    row["fit_eager_ms"] = round(timed(step, batch, len(inputs), steps, device), 3)

    if device.type == "cuda":
        model, loss_fn, batch, inputs, targets, corrupt, mixed = make(name, device)
        optimizer = make_optimizer(model.parameters(), lr=1e-3)
        step = TrainStep(model, optimizer, inputs, targets, loss_fn=loss_fn, corrupt=corrupt,
                         mixed_precision=mixed)  # fmt: skip
        graphed = GraphedStep(step, optimizer, (batch,), device)
        row["fit_graph_ms"] = round(timed(graphed, batch, len(inputs), steps, device), 3)
        row["graph_recorded"] = graphed.graph is not None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best there is)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS),
                        help="default: all on a GPU, the MNIST ones on a CPU")  # fmt: skip
    parser.add_argument("--steps", type=int, default=100, help="steps per timing (CPU: fewer)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    device = choose_device(args.device)
    if not args.models:  # 150x150 photo models take seconds a step on a CPU
        args.models = [n for n in MODELS if device.type != "cpu" or MODELS[n][3] == MNIST]
    rows = []
    print(f"{device_name(device)} ({device}), torch {torch.__version__}")
    print(
        f"{'model':<14}{'lesson':<10}{'batch':>6}{'textbook':>11}{'fit eager':>11}{'fit graph':>11}"
    )
    for name in args.models:
        row = bench(name, device, args.steps)
        rows.append(row)
        graph = f"{row['fit_graph_ms']:>9.3f}ms" if "fit_graph_ms" in row else f"{'-':>11}"
        print(f"{name:<14}{row['lesson']:<10}{row['batch_size']:>6}{row['textbook_ms']:>9.3f}ms"
              f"{row['fit_eager_ms']:>9.3f}ms{graph}", flush=True)  # fmt: skip
    result = {
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "steps_timed": args.steps,
        "ms_per_step": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"step-{device.type}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
