"""Which VAE for Lesson 03? Settings compared on the validation split, the lesson's way.

The full profile must reach at most 105 nats per image after the seed's 10 epochs and under
100 at the end, with the seed's batch size (64) and Adam at 1e-3, in few steps (a step costs
about the same on a GPU whatever it computes). Each setting trains as Lesson 03 does (two
``fit`` calls, epochs 1-10 with seed 0 and the rest with seed 1) and reports the validation
loss after 10 epochs and at the end. The choice is made on validation; the test loss is
printed once, for the settings the lesson uses. The ``sample-`` settings ask the same of the
quick profile's offline sample: does a falling learning rate help there too?

    .venv/bin/python benchmarks/vae_full.py                     # every setting, ~45 min, 2 cores
    .venv/bin/python benchmarks/vae_full.py --settings cosine40-32

The full-MNIST settings need full MNIST in data/MNIST (see README: the full profile).
"""

from __future__ import annotations

import argparse

import torch

from aecourse.data import load_mnist
from aecourse.losses import vae_loss
from aecourse.models import VAE
from aecourse.train import cosine_schedule, evaluate, fit, make_optimizer, seed_everything

# name: (data, hidden layers, latent size, epochs, learning rate falls along a cosine)
SETTINGS = {
    "constant50-20": ("full", (512, 256), 20, 50, False),
    "constant50-32": ("full", (512, 256), 32, 50, False),
    "cosine50-20": ("full", (512, 256), 20, 50, True),
    "cosine30-20": ("full", (512, 256), 20, 30, True),
    "cosine30-32": ("full", (512, 256), 32, 30, True),
    "cosine40-20": ("full", (512, 256), 20, 40, True),
    "cosine40-32": ("full", (512, 256), 32, 40, True),
    "sample-constant60": ("sample", (400,), 20, 60, False),
    "sample-cosine60": ("sample", (400,), 20, 60, True),
}
CHOSEN = ("cosine40-20", "sample-constant60")  # what Lesson 03 uses in full and in quick


def run(name: str, data, test: bool) -> dict:
    _, hidden, latent, epochs, cosine = SETTINGS[name]
    seed_everything(0)
    model = VAE(latent, hidden).to(data.train.x.device)
    optimizer = make_optimizer(model.parameters(), lr=1e-3)
    schedule = cosine_schedule(1e-3, epochs) if cosine else None
    args = dict(batch_size=64, loss_fn=vae_loss, optimizer=optimizer, lr_schedule=schedule,
                progress=False, print_every=0)  # fmt: skip
    first = fit(model, data.train.x, data.val.x, epochs=10, seed=0, **args)
    rest = fit(model, data.train.x, data.val.x, epochs=epochs - 10, seed=1, start_epoch=11, **args)
    row = {"setting": name, "steps": epochs * -(-len(data.train.x) // 64),
           "val_10": first["val_loss"][-1], "val_end": rest["val_loss"][-1]}  # fmt: skip
    if test:
        torch.manual_seed(0)
        row["test_end"] = evaluate(model, data.test.x, loss_fn=vae_loss)["loss"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args()
    data = {}
    print(f"{'setting':<18}{'steps':>8}{'val @10':>10}{'val @end':>10}{'test @end':>11}")
    for name in args.settings:
        source = SETTINGS[name][0]
        data[source] = data.get(source) or load_mnist(source, verbose=False)
        row = run(name, data[source], test=name in CHOSEN)
        test = f"{row['test_end']:>11.2f}" if "test_end" in row else ""
        print(f"{name:<18}{row['steps']:>8,}{row['val_10']:>10.2f}{row['val_end']:>10.2f}{test}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
