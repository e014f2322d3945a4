"""How much does the Lab colorizer gain over the gray copy, photo by photo?

Lesson 05 tests on two photos, which is a noisy judge. Here each of the 8 shipped photos is the
test photo in turn, and the seed's skip model (Lab output) trains on crops of the other 7
(1,200 crops of 64x64, batch 32, Adam 1e-3, seed 0). Printed: the gray copy's PSNR on the held
out photo and the model's gain over it after 2, 4, 6 and 8 epochs.

    .venv/bin/python benchmarks/colorization_by_photo.py   # about 8 minutes on 2 CPU cores
"""

import torch

from aecourse.colour import colorize, lab_split
from aecourse.metrics import psnr
from aecourse.models import ColorAutoEncoder
from aecourse.photos import random_crops, shipped_photos, to_gray
from aecourse.train import fit, seed_everything

SIZE, TRAIN_CROPS, TEST_CROPS, EPOCHS = 64, 1200, 200, 8


def crops(groups, names, total, generator):
    photos = [p for n in names for p in groups[n]]
    shares = [total // len(photos) + (i < total % len(photos)) for i in range(len(photos))]
    parts = [
        random_crops(p, k, SIZE, int(SIZE * 2.5), generator)
        for p, k in zip(photos, shares, strict=True)
    ]
    return torch.cat(parts).float() / 255


def main() -> None:
    groups = shipped_photos()
    generator = torch.Generator().manual_seed(0)
    print(f"{'held-out photo':<16}{'gray copy':>10}  gain of Lab after epochs 2, 4, 6, 8 (dB)")
    gains = []
    for held in sorted(groups):
        train = crops(groups, [n for n in groups if n != held], TRAIN_CROPS, generator)
        test = crops(groups, [held], TEST_CROPS, generator)
        seed_everything(0)
        model = ColorAutoEncoder(2)
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        gray = psnr(to_gray(test).expand(-1, 3, -1, -1), test).mean().item()
        row = []
        for epoch in range(1, EPOCHS + 1):
            fit(model, lab_split(train), lab_split(test), epochs=1, batch_size=32,
                optimizer=optimizer, seed=epoch, progress=False, print_every=0)  # fmt: skip
            if epoch % 2 == 0:
                row.append(psnr(colorize(model, test, "lab"), test).mean().item() - gray)
        gains.append(row)
        print(f"{held:<16}{gray:>10.2f}  " + "  ".join(f"{g:+6.2f}" for g in row), flush=True)
    means = torch.tensor(gains).mean(0).tolist()
    print(f"{'mean gain':<16}{'':>10}  " + "  ".join(f"{g:+6.2f}" for g in means))


if __name__ == "__main__":
    main()
