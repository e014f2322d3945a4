"""How much does Lesson 05's Lab result depend on the training seed and the CPU's arithmetic?

Lesson 05 trains its Lab model once (seed 0) and checks that it beats the gray copy by 1 dB on
the test split. Here the same model, data and budget (quick profile: 1,200 64x64 crops, 6
epochs, batch 32, Adam 1e-3) train with other seeds, and optionally another number of CPU
threads, which changes the order of floating-point sums much as another CPU model does.
Printed per run: the Lab model's test PSNR and its gain over the gray copy and over the
constant average colour. This only reports the spread; nothing is chosen on these numbers.

    .venv/bin/python benchmarks/colorization_seeds.py --seeds 0 1 2 3 4   # ~3 min, 2 cores
    .venv/bin/python benchmarks/colorization_seeds.py --seeds 0 --threads 1
"""

import argparse

import torch

from aecourse.color import colorize, lab_join, lab_split
from aecourse.metrics import psnr
from aecourse.models import ColorAutoEncoder
from aecourse.photos import load_shipped_photos
from aecourse.profiles import COLORIZATION
from aecourse.train import fit, seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    budget = COLORIZATION["quick"]
    photos = load_shipped_photos(budget.image_size, crops=budget.crops, seed=0, verbose=False)
    test = photos.test.rgb
    gray = psnr(photos.test.gray.expand(-1, 3, -1, -1), test).mean().item()
    mean_ab = lab_split(photos.train.rgb)[1].mean(dim=(0, 2, 3), keepdim=True)
    lightness, ab = lab_split(test)
    constant = psnr(lab_join(lightness, mean_ab.expand_as(ab)), test).mean().item()
    print(f"threads {torch.get_num_threads()}; gray copy {gray:.2f} dB, constant {constant:.2f}")
    print("| seed | Lab PSNR (dB) | gain over gray copy | gain over constant colour |")
    for seed in args.seeds:
        seed_everything(seed)
        model = ColorAutoEncoder(out_channels=2)
        fit(model, lab_split(photos.train.rgb), lab_split(photos.val.rgb),
            epochs=budget.epochs_skip, batch_size=budget.batch_size, lr=budget.lr, seed=seed,
            progress=False, print_every=0)  # fmt: skip
        lab = psnr(colorize(model, test, "lab"), test).mean().item()
        print(f"| {seed} | {lab:.2f} | {lab - gray:+.2f} | {lab - constant:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
