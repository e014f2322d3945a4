"""How many epochs, and how much does a colorizer gain over the gray copy on a new photo?

Lesson 05 tests on two photos, a noisy judge and one that must never be used to choose
anything. Here each of the OTHER shipped photos is held out in turn (leave-one-photo-out
cross-validation): a model trains on 1,200 64x64 crops of the remaining ones (batch 32, Adam
1e-3, seed 0) and is scored on 200 crops of the held-out photo after every epoch. Printed, per
held-out photo and epoch: the model's PSNR minus the gray copy's PSNR (dB), their mean, and
the epoch with the best mean gain. With several models, also the mean over the models: its
best epoch is the quick profile's epoch count, shared by Lessons 04 and 05 so that their models
get the same budget.

    .venv/bin/python benchmarks/colorization_by_photo.py   # conv, skip-rgb, lab: ~20 min, 2 cores
    .venv/bin/python benchmarks/colorization_by_photo.py --model lab   # one model

``--held-out all`` also holds out the lesson's test photos, to describe them, not to choose.
"""

import argparse

import torch

from aecourse.color import colorize, lab_split, to_gray
from aecourse.metrics import psnr
from aecourse.models import ColorAutoEncoder, ConvColorizer
from aecourse.photo_splits import crops_of, split_photo_names
from aecourse.photos import shipped_photos
from aecourse.train import fit, seed_everything

SIZE, TRAIN_CROPS, TEST_CROPS = 64, 1200, 200
MODELS = {  # name: (model factory, colour space of its output)
    "conv": (lambda: ConvColorizer(), "rgb"),
    "skip-rgb": (lambda: ColorAutoEncoder(3), "rgb"),
    "lab": (lambda: ColorAutoEncoder(2), "lab"),
}


def pairs(rgb: torch.Tensor, space: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's (input, target) for colour crops: gray -> RGB, or L -> a*b*."""
    return (to_gray(rgb), rgb) if space == "rgb" else lab_split(rgb)


def gains_by_epoch(model_name: str, train_names, held_out: str, groups, epochs: int):
    """Gain over the gray copy on ``held_out`` after each epoch, and the gray copy's PSNR."""
    generator = torch.Generator().manual_seed(0)
    train = crops_of(groups, train_names, TRAIN_CROPS, SIZE, generator)[0].float() / 255
    test = crops_of(groups, [held_out], TEST_CROPS, SIZE, generator)[0].float() / 255
    make, space = MODELS[model_name]
    seed_everything(0)
    model = make()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    gray = psnr(to_gray(test).expand(-1, 3, -1, -1), test).mean().item()
    gains = []
    for epoch in range(1, epochs + 1):
        fit(model, pairs(train, space), pairs(test, space), epochs=1, batch_size=32,
            optimizer=optimizer, seed=epoch, progress=False, print_every=0)  # fmt: skip
        gains.append(psnr(colorize(model, test, space), test).mean().item() - gray)
    return gains, gray


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--held-out", choices=("non-test", "all"), default="non-test")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    groups = shipped_photos()
    test_names = split_photo_names(list(groups))["test"]  # Lesson 05's test split (seed 0)
    pool = sorted(groups) if args.held_out == "all" else sorted(set(groups) - set(test_names))
    print(f"held out in turn: {', '.join(pool)}")
    model_means = []
    for model_name in args.model:
        print(f"\n{model_name}: gain over the gray copy (dB) after each epoch")
        print(
            "| held-out photo | gray copy (dB) | " + " | ".join(map(str, range(1, args.epochs + 1)))
        )
        rows = []
        for held_out in pool:
            train_names = [name for name in pool if name != held_out]
            gains, gray = gains_by_epoch(model_name, train_names, held_out, groups, args.epochs)
            rows.append(gains)
            print(
                f"| {held_out} | {gray:.2f} | " + " | ".join(f"{g:+.2f}" for g in gains), flush=True
            )
        model_means.append(torch.tensor(rows).mean(0))
        report("mean", model_means[-1])
    if len(args.model) > 1:
        print()
        report("mean over models", torch.stack(model_means).mean(0))


def report(name: str, means: torch.Tensor) -> None:
    """The mean gain per epoch as a table row, and its best epoch."""
    print(f"| **{name}** | | " + " | ".join(f"{g:+.2f}" for g in means.tolist()))
    best = int(means.argmax()) + 1
    print(f"{name}: best gain {means.max().item():+.2f} dB after epoch {best} of {len(means)}")


if __name__ == "__main__":
    main()
