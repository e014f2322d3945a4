"""How well does the quick profile's Lab colorizer colour photos it has never seen?

``FOLDER``: trains Lesson 05's Lab model exactly as the lesson does (quick profile: the
shipped photos' train split, 1,200 64x64 crops, val on the rocket, batch 32, Adam 1e-3,
seed 0, and the lesson's recipe), then scores it on fixed-seed 64x64 crops of every photo in
FOLDER (25 per photo, cut like the lesson's crops), beside the gray copy and the constant
colour (each crop's own L with the training crops' mean a*b*), photo by photo. Last line:

    unseen: model P dB, gray copy G dB, constant colour C dB

``--held-out-shipped``: the same scores, with each of the five shipped training photos held
out in turn (the model trains on the other four; val stays the rocket; the lesson's two test
photos are never used). This is what chose the quick profile's recipe (``--recipe``, see
benchmarks/README.md); pass several recipes to compare them.

    .venv/bin/python benchmarks/colorization_unseen.py ~/my_photos          # ~40 s, 2 cores
    .venv/bin/python benchmarks/colorization_unseen.py --held-out-shipped --recipe plain best
"""

import argparse
from pathlib import Path

import torch

from aecourse.color import colorize, constant_color, lab_split, to_gray
from aecourse.metrics import psnr
from aecourse.models import ColorAutoEncoder
from aecourse.photo_folder import decode_folder, find_images
from aecourse.photo_splits import CROP_SCALE, crops_of, split_photo_names
from aecourse.photos import shipped_photos
from aecourse.profiles import COLORIZATION
from aecourse.train import fit, seed_everything

BUDGET = COLORIZATION["quick"]
CROPS_PER_PHOTO = 25


RECIPES = {
    "plain": "Lesson 05's: 6 epochs, last epoch's weights",
    "best": "keep the epoch with the lowest val loss (fit's keep_best)",
    "decay": "AdamW with weight decay 0.05 instead of Adam",
    "decay-0.2": "AdamW with weight decay 0.2",
    "decay-best": "AdamW with weight decay 0.05, keeping the epoch with the lowest val loss",
    "shrink": "predicted a*b* pulled toward the mean colour by a factor chosen on val",
}


class Shrunk(torch.nn.Module):
    """A Lab model whose a*b* are pulled toward the training mean: mean + k (model - mean)."""

    def __init__(self, model, mean_ab: torch.Tensor, k: float):
        super().__init__()
        self.model, self.k = model, k
        self.register_buffer("mean_ab", mean_ab)

    def forward(self, lightness):
        return self.mean_ab + self.k * (self.model(lightness) - self.mean_ab)


def train_lab_model(groups, train_names, val_names, recipe: str):
    """Lesson 05's Lab model trained as the lesson trains it, on crops of ``train_names``,
    changed as ``recipe`` says; returns the model and its training crops."""
    generator = torch.Generator().manual_seed(0)
    train = crops_of(groups, train_names, BUDGET.crops[0], BUDGET.image_size, generator)[0]
    val = crops_of(groups, val_names, BUDGET.crops[1], BUDGET.image_size, generator)[0]
    train, val = train.float() / 255, val.float() / 255
    seed_everything(0)
    model = ColorAutoEncoder(out_channels=2)
    optimizer = None
    if recipe.startswith("decay"):
        decay = 0.2 if recipe == "decay-0.2" else 0.05
        optimizer = torch.optim.AdamW(model.parameters(), BUDGET.lr, weight_decay=decay)
    fit(model, lab_split(train), lab_split(val), epochs=BUDGET.epochs_skip,
        batch_size=BUDGET.batch_size, lr=BUDGET.lr, seed=0, print_every=0, progress=False,
        keep_best=recipe.endswith("best"), optimizer=optimizer)  # fmt: skip
    if recipe == "shrink":
        mean_ab = lab_split(train)[1].mean(dim=(0, 2, 3), keepdim=True)
        val_db = {
            k: psnr(colorize(Shrunk(model, mean_ab, k), val, "lab"), val).mean().item()
            for k in (0.0, 0.25, 0.5, 0.75, 1.0)
        }
        model = Shrunk(model, mean_ab, max(val_db, key=val_db.get))
        print(f"    shrink factor chosen on val: {model.k}")
    return model, train


def scores(model, train_rgb, photos: dict[str, torch.Tensor]) -> dict[str, tuple[float, ...]]:
    """Per photo: (model, gray copy, constant colour) PSNR in dB, averaged over its crops."""
    table = {}
    for name, crops in photos.items():
        model_db = psnr(colorize(model, crops, "lab"), crops).mean().item()
        gray_db = psnr(to_gray(crops).expand(-1, 3, -1, -1), crops).mean().item()
        constant_db = psnr(constant_color(train_rgb, crops), crops).mean().item()
        table[name] = (model_db, gray_db, constant_db)
    return table


def unseen_crops(groups, names) -> dict[str, torch.Tensor]:
    """Fixed-seed crops of each photo, cut as the lesson cuts its crops."""
    generator = torch.Generator().manual_seed(1)
    return {
        name: crops_of(groups, [name], CROPS_PER_PHOTO, BUDGET.image_size, generator)[0].float()
        / 255
        for name in names
    }


def report(table: dict[str, tuple[float, ...]], label: str = "unseen") -> torch.Tensor:
    print("| photo | model (dB) | gray copy (dB) | constant colour (dB) | model - constant |")
    print("| --- | --- | --- | --- | --- |")
    for name, (m, g, c) in table.items():
        print(f"| {name} | {m:.2f} | {g:.2f} | {c:.2f} | {m - c:+.2f} |")
    mean = torch.tensor(list(table.values())).mean(0)
    print(f"{label}: model {mean[0]:.2f} dB, gray copy {mean[1]:.2f} dB, "
          f"constant colour {mean[2]:.2f} dB")  # fmt: skip
    return mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, help="photos the model never saw")
    parser.add_argument("--held-out-shipped", action="store_true")
    parser.add_argument("--recipe", nargs="+", default=["plain"], choices=list(RECIPES))
    args = parser.parse_args()
    if (args.folder is None) == (not args.held_out_shipped):
        parser.error("give a FOLDER or --held-out-shipped")
    groups = shipped_photos()
    lesson_split = split_photo_names(list(groups))  # Lesson 05's (seed 0)
    for recipe in args.recipe:
        print(f"\nrecipe {recipe}: {RECIPES[recipe]}")
        if args.folder is not None:
            files, _ = find_images(args.folder)
            decoded = decode_folder(args.folder, files, int(BUDGET.image_size * CROP_SCALE),
                                    square=False)  # fmt: skip
            for warning in decoded.warnings:
                print(f"warning: {warning}")
            unseen = {n: [im.permute(1, 2, 0).numpy()] for n, im in
                      zip(decoded.names, decoded.images, strict=True)}  # fmt: skip
            model, train = train_lab_model(groups, lesson_split["train"], lesson_split["val"],
                                           recipe)  # fmt: skip
            report(scores(model, train, unseen_crops(unseen, list(unseen))))
            continue
        table = {}
        for held_out in lesson_split["train"]:
            others = [n for n in lesson_split["train"] if n != held_out]
            model, train = train_lab_model(groups, others, lesson_split["val"], recipe)
            table |= scores(model, train, unseen_crops(groups, [held_out]))
            print(f"  {held_out}: model {table[held_out][0]:.2f} dB", flush=True)
        report(table, f"unseen ({recipe}, held-out shipped photos)")


if __name__ == "__main__":
    main()
