"""Does Lesson 02's model need BatchNorm? The same network with and without it, several seeds.

Lesson 02 says that without BatchNorm its small convolutional autoencoder can collapse to one
constant image (the ReLUs die, the decoder learns the average digit). This trains both versions
as the lesson trains its model (the quick profile's data and settings: the 4,000-digit
offline sample, Adam 1e-3, batches of 64, 20 epochs, fresh Gaussian noise every batch) for
each seed and noise level, and reports the validation MSE on noisy inputs against clean
targets and how much the outputs differ from image to image (a collapsed model's barely do).
Written to ``results/denoising-batchnorm.json``.

    .venv/bin/python benchmarks/denoising_batchnorm.py            # ~3 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import torch
from torch import nn

from aecourse.data import load_mnist
from aecourse.models import DenoisingAutoencoder
from aecourse.noise import gaussian_noise
from aecourse.train import fit, seed_everything

ROOT = Path(__file__).resolve().parents[1]
COLLAPSED = 0.02  # output spread across images below this: one image for every input


def without_batchnorm() -> nn.Module:
    """Lesson 02's network with every BatchNorm layer taken out, nothing else changed."""
    model = DenoisingAutoencoder()
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, nn.Identity())
    return model


def run(make, seed: int, std: float, data, epochs: int) -> dict:
    seed_everything(seed)
    model = make()
    corrupt = partial(gaussian_noise, std=std)
    fit(model, data.train.x, data.val.x, epochs=epochs, batch_size=64, lr=1e-3,
        corrupt=corrupt, seed=seed, progress=False, print_every=0)  # fmt: skip
    noisy = gaussian_noise(data.val.x, std, torch.Generator().manual_seed(seed + 2))
    model.eval()
    with torch.no_grad():
        out = model(noisy)
    spread = out.std(dim=0).mean().item()
    mse = torch.mean((out - data.val.x) ** 2).item()
    return {"val_mse": mse, "output_spread": spread, "collapsed": spread < COLLAPSED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--stds", type=float, nargs="+", default=[0.3, 0.5])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/denoising-batchnorm.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = load_mnist("sample", seed=0, verbose=False)
    rows = []
    for label, make in (("with BatchNorm", DenoisingAutoencoder), ("without", without_batchnorm)):
        for std in args.stds:
            for seed in args.seeds:
                start = time.perf_counter()
                row = {
                    "model": label,
                    "std": std,
                    "seed": seed,
                    **run(make, seed, std, data, args.epochs),
                }
                row["seconds"] = round(time.perf_counter() - start, 1)
                rows.append(row)
                print(f"{label:15} std {std}  seed {seed}  val MSE {row['val_mse']:.4f}  "
                      f"output spread {row['output_spread']:.3f}"
                      f"{'  COLLAPSED' if row['collapsed'] else ''}", flush=True)  # fmt: skip
    record = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
              "epochs": args.epochs, "rows": rows}  # fmt: skip
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
