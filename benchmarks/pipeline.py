"""Seconds per epoch: the course's tensor pipeline vs the usual per-sample DataLoader loop.

Same model (a small MLP autoencoder), same 4,000 training digits, same loss and Adam; what
differs is how batches are made and how the step is taken:

* tensor: what ``fit`` does. The split lives in one float tensor on the device, a batch is
  ``x[idx]``, and the step is ``fit``'s (:class:`aecourse.train.TrainStep`: no read-back of the
  loss; on CUDA a fused Adam and the step recorded once as a CUDA graph and replayed);
* loader: a ``Dataset`` of PIL images, ``ToTensor()`` per sample, ``DataLoader`` collation,
  a copy of every batch to the device and a plain Adam step (the pattern of most tutorials,
  and of the seed).

Usage: ``python benchmarks/pipeline.py [--epochs 5] [--device cpu|cuda|mps]``. Runs on the CPU
and, when present, on the GPU; prints a table and writes ``benchmarks/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import ToTensor

from aecourse.cuda_graphs import GraphedStep
from aecourse.data import batches, load_mnist
from aecourse.profiles import choose_device
from aecourse.results import device_name
from aecourse.train import TrainStep, make_optimizer

BATCH_SIZE = 64


class PILDigits(Dataset):
    """Digits kept as PIL images and converted one by one, as in a typical tutorial."""

    def __init__(self, images: torch.Tensor):
        self.images = [Image.fromarray((img[0] * 255).byte().numpy()) for img in images.cpu()]
        self.to_tensor = ToTensor()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.to_tensor(self.images[i])


def mlp_autoencoder() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 32), nn.ReLU(),
        nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid(),
        nn.Unflatten(1, (1, 28, 28)),
    )  # fmt: skip


def step(model, optimizer, x) -> torch.Tensor:
    loss = nn.functional.mse_loss(model(x), x)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def epoch_tensor(train_step, n: int, gen, device) -> None:
    for idx in batches(n, BATCH_SIZE, shuffle=True, generator=gen, device=device):
        train_step(idx)


def epoch_loader(model, optimizer, loader, device) -> None:
    for xb in loader:
        step(model, optimizer, xb.to(device, non_blocking=True))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def time_epochs(run_epoch, epochs: int, device: torch.device) -> list[float]:
    run_epoch()  # warm-up: allocator, kernels, first-touch costs
    times = []
    for _ in range(epochs):
        sync(device)
        start = time.perf_counter()
        run_epoch()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def bench(device: torch.device, epochs: int, x_train: torch.Tensor) -> dict:
    results = {}
    torch.manual_seed(0)
    model = mlp_autoencoder().to(device)
    opt = make_optimizer(model.parameters(), lr=1e-3)
    x_dev = x_train.to(device)
    gen = torch.Generator().manual_seed(0)
    train_step = TrainStep(model, opt, x_dev, x_dev)
    if device.type == "cuda":
        train_step = GraphedStep(train_step, opt, (BATCH_SIZE,), device)
    results["tensor"] = time_epochs(
        lambda: epoch_tensor(train_step, len(x_dev), gen, device), epochs, device
    )
    torch.manual_seed(0)
    model = mlp_autoencoder().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(PILDigits(x_train), batch_size=BATCH_SIZE, shuffle=True,
                        pin_memory=device.type == "cuda")  # fmt: skip
    results["loader"] = time_epochs(
        lambda: epoch_loader(model, opt, loader, device), epochs, device
    )
    median = {k: statistics.median(v) for k, v in results.items()}
    return {
        "device": str(device),
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "epochs_timed": epochs,
        "n_train": len(x_train),
        "seconds_per_epoch": {k: round(v, 4) for k, v in median.items()},
        "speedup": round(median["loader"] / median["tensor"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", help="only this device (default: cpu, then any GPU)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    data = load_mnist("sample")
    devices = [torch.device(args.device)] if args.device else [torch.device("cpu")]
    if not args.device and choose_device().type != "cpu":
        devices.append(choose_device())
    rows = [bench(d, args.epochs, data.train.x) for d in devices]
    print(f"\n{'device':<8}{'tensor s/epoch':>16}{'loader s/epoch':>16}{'speed-up':>10}")
    for r in rows:
        s = r["seconds_per_epoch"]
        print(f"{r['device']:<8}{s['tensor']:>16.4f}{s['loader']:>16.4f}{r['speedup']:>9.1f}x")
    args.out.mkdir(parents=True, exist_ok=True)
    name = "pipeline.json" if not args.device else f"pipeline-{args.device}.json"
    (args.out / name).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
