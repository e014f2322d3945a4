"""Profiles: how much work a lesson does, and on which device.

``quick`` is sized for a 2-core laptop with no GPU (offline MNIST sample, few epochs);
``full`` uses the seed presentation's settings (full MNIST, batch 64, 10 epochs, ...);
``grading`` is what the autograder runs a student's notebook with: the quick profile's data
(fewer and smaller photo crops) with training cut to an epoch or so, so that every cell runs
(and draws) in seconds; its numbers are not the lesson's results, and the points never come
from it (they come from the steps' cases, which bring their own inputs).
Each lesson keeps its own hyper-parameters per profile in a visible table; this module only
decides *which* profile, data source and device are in force, and says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a device is chosen: the command line needs none
    import torch

PROFILES = ("quick", "full", "grading")
DATA_SOURCES = ("sample", "full", "auto")
DEVICES = ("cuda", "mps", "cpu")


def _accelerator() -> str | None:
    """The best accelerator present, or None on a CPU-only machine."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return None


def choose_device(requested: str | None = None) -> torch.device:
    """Pick the training device: the argument, else ``AECOURSE_DEVICE``, else cuda > mps > cpu."""
    import torch

    name = requested or os.environ.get("AECOURSE_DEVICE") or _accelerator() or "cpu"
    if name not in DEVICES:
        raise ValueError(f"Unknown device {name!r}: use one of {', '.join(DEVICES)}.")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("Device 'cuda' was asked for but no CUDA GPU is visible; use 'cpu'.")
    if name == "mps" and _accelerator() != "mps":
        raise ValueError("Device 'mps' was asked for but Apple's MPS is not available; use 'cpu'.")
    return torch.device(name)


# The quick profile's committed outputs were computed on 2 CPU threads. The number of threads
# changes the order of floating-point sums, and training carries the difference on, so the
# quick profile on a CPU always computes on this many: the same seed then prints the same
# numbers in JupyterLab, papermill and nbval on any machine of the same CPU kind.
REFERENCE_THREADS = 2
# The grading profile runs one student's notebook per core (a class is graded in parallel):
# two threads per notebook on a 2-core machine graded two at a time would fight for the cores.
GRADING_THREADS = 1
PINNED_THREADS = {"quick": REFERENCE_THREADS, "grading": GRADING_THREADS}


def pin_cpu_threads(profile: str, device: torch.device) -> int:
    """Set torch's CPU threads for the quick profile (:data:`REFERENCE_THREADS`) and the
    grading profile (:data:`GRADING_THREADS`) on a CPU; return the number in force."""
    import torch

    if profile in PINNED_THREADS and device.type == "cpu":
        torch.set_num_threads(PINNED_THREADS[profile])
    return torch.get_num_threads()


def choose_profile(requested: str | None = None) -> tuple[str, str]:
    """Return ``(profile, why)``: the papermill parameter, else ``AECOURSE_PROFILE``, else auto."""
    if requested:
        name, why = requested, "set by the notebook parameter"
    elif os.environ.get("AECOURSE_PROFILE"):
        name, why = os.environ["AECOURSE_PROFILE"], "set by AECOURSE_PROFILE"
    else:
        accel = _accelerator()
        name = "full" if accel else "quick"
        why = f"chosen automatically: {accel or 'no CUDA or MPS'} found"
    if name not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r} ({why}). Use one of: {', '.join(PROFILES)}, "
            "e.g. AECOURSE_PROFILE=quick."
        )
    return name, why


def choose_data_source(requested: str | None, profile: str) -> tuple[str, str]:
    """Return ``(source, why)``: the argument, else ``AECOURSE_DATA``, else the profile's default.

    ``quick`` defaults to the offline sample; ``full`` to ``auto`` (full MNIST when it is in
    ``data/`` or can be downloaded, otherwise the sample, with a printed warning).
    """
    if requested:
        name, why = requested, "set by the notebook parameter"
    elif os.environ.get("AECOURSE_DATA"):
        name, why = os.environ["AECOURSE_DATA"], "set by AECOURSE_DATA"
    else:
        name = "auto" if profile == "full" else "sample"
        why = f"default of the {profile} profile"
    if name not in DATA_SOURCES:
        raise ValueError(
            f"Unknown data source {name!r} ({why}). Use one of: {', '.join(DATA_SOURCES)}."
        )
    return name, why


# --- colour photos (Lessons 04 and 05) ----------------------------------------------------

PHOTO_SOURCES = ("shipped", "flowers102", "auto")  # or the path of a folder of photos


def choose_photo_source(requested: str | None, profile: str) -> tuple[str, str]:
    """Return ``(source, why)`` for the colorization lessons.

    The argument, else ``AECOURSE_PHOTOS``, else the profile's default: ``quick`` uses the
    offline ``shipped`` photographs; ``full`` uses ``auto`` (your photos in ``data/photos/``
    when that folder has any, otherwise the shipped ones). Any other value is a folder path.
    """
    if requested:
        return requested, "set by the notebook parameter"
    if os.environ.get("AECOURSE_PHOTOS"):
        return os.environ["AECOURSE_PHOTOS"], "set by AECOURSE_PHOTOS"
    name = "auto" if profile == "full" else "shipped"
    return name, f"default of the {profile} profile"


@dataclass(frozen=True)
class ColorizationBudget:
    """Data and training budget shared by Lessons 04 and 05, so their models compare fairly.

    ``full`` is the seed's setting (150x150, batch 32, Adam 1e-3); the seed trained the plain
    model 20 epochs and the skip model 25, and Lesson 05 gives every model it compares the
    same number. ``quick`` trains 6 epochs: the count with the best mean gain over the gray
    copy in leave-one-photo-out cross-validation on the six photos outside the test split
    (``benchmarks/colorization_by_photo.py``); with five training photos, longer training
    learns them by heart. ``crops`` (train, val, test): how many crops the shipped photos, or a
    folder with fewer photos than that, are cut into; a larger folder gives one image a photo.
    """

    image_size: int
    crops: tuple[int, int, int]
    epochs_conv: int
    epochs_skip: int
    batch_size: int = 32
    lr: float = 1e-3


# The MNIST lessons' training digits per profile (None: the whole training split). Grading
# trains on a quarter of the offline sample: every cell still runs, a class is graded sooner
# (Lesson 03's ten anomaly VAEs took 5 of its 13 s a notebook), and its numbers were never
# the lesson's results.
MNIST_TRAIN_IMAGES = {"quick": None, "full": None, "grading": 1000}


COLORIZATION = {
    "quick": ColorizationBudget(64, (1200, 200, 200), epochs_conv=6, epochs_skip=6),
    "full": ColorizationBudget(150, (4000, 400, 400), epochs_conv=20, epochs_skip=25),
    # every cell runs and draws, on crops small enough for a class to be graded in minutes
    "grading": ColorizationBudget(32, (128, 32, 32), epochs_conv=1, epochs_skip=1),
}


# --- the full profile on a CPU -----------------------------------------------------------

# Minutes each lesson takes in the full profile on the 2-core CPU the course is developed on
# (2 threads, 2026-11-26): 01 to 03 timed with full MNIST (benchmarks/results/
# full-profile-cpu.json); 04 and 05 estimated as their optimizer steps times the seconds one
# step of their models takes there (benchmarks/results/step-cpu.json: 0.21 s and 0.9 s).
FULL_PROFILE_CPU_MINUTES = {"01": 0.9, "02": 2.8, "03": 9.5, "04": 10, "05": 110}
QUICK_PROFILE_CPU_MINUTES = 5  # the whole quick course on the same CPU, at most


def full_profile_on_cpu_warning(lessons: list[str]) -> str:
    """What running ``lessons`` in the full profile on a CPU costs, and the quick alternative."""
    minutes = sum(FULL_PROFILE_CPU_MINUTES.get(n, 0) for n in lessons)
    if minutes >= 90:
        took = f"about {minutes / 60:.1f} hours"
    elif minutes >= 1.5:
        took = f"about {minutes:.0f} minutes"
    else:
        took = "about a minute"
    which = f"lesson {lessons[0]} takes" if len(lessons) == 1 else f"{len(lessons)} lessons take"
    return (
        f"WARNING: the full profile on a CPU: {which} {took} on 2 cores with its full data "
        "(more cores help less than a GPU would). It is meant for a GPU. On a "
        f"CPU use the quick profile, --profile quick (AECOURSE_PROFILE=quick): the whole course "
        f"in under {QUICK_PROFILE_CPU_MINUTES} minutes."
    )
