"""The results contract: each lesson records its key numbers into one JSON file.

A lesson starts with :func:`start_lesson`, which settles profile, data source and device
(and says why), and ends up calling :func:`record` for each number worth keeping and
:func:`verdict` for each claim it checks. The file's path is the papermill parameter
``results_path``; the course runner gathers the files into ``summary.json``. Without a path
(a student in JupyterLab) the numbers are only kept in memory. The file is rewritten on every
call, so the numbers of the cells that ran survive a later failure.

The file also says where the time went: the device's name and the number of optimizer steps
the lesson took (every ``optimizer.step()`` is counted, plus the steps that
:mod:`aecourse.cuda_graphs` replays).
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from aecourse.profiles import (
    MNIST_TRAIN_IMAGES,
    choose_data_source,
    choose_device,
    choose_photo_source,
    choose_profile,
    full_profile_on_cpu_warning,
    pin_cpu_threads,
)


@dataclass
class Lesson:
    """What a lesson runs with, and what it has recorded so far."""

    lesson: str
    profile: str
    data_source: str | None  # MNIST lessons: "sample", "full" or "auto"
    photo_source: str | None  # colorization lessons: "shipped", "flowers102", "auto" or a folder
    device: torch.device
    results_path: Path | None = None
    context: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)
    optimizer_steps: int = 0

    @property
    def train_images(self) -> int | None:
        """How many training digits an MNIST lesson trains on in this profile (None: all)."""
        return MNIST_TRAIN_IMAGES.get(self.profile)

    def save(self) -> None:
        self.context["optimizer_steps"] = self.optimizer_steps
        if self.results_path is None:
            return
        self.results_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"context": self.context, "metrics": self.metrics, "verdicts": self.verdicts}
        tmp = self.results_path.with_name(self.results_path.name + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, self.results_path)


_current: Lesson | None = None
_step_hook = None  # the handle of the hook that counts optimizer steps


def device_name(device: torch.device) -> str:
    """What the device is, in words: "NVIDIA H200", or the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:  # Linux names the model here, platform does not
            cpu = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"Apple MPS ({cpu})" if device.type == "mps" else cpu


def count_steps(n: int = 1) -> None:
    """Add ``n`` optimizer steps to the running lesson's count (in memory; saved with it)."""
    if _current is not None:
        _current.optimizer_steps += n


def _count_optimizer_step(optimizer, args, kwargs) -> None:
    """Called after every ``optimizer.step()``. A step being recorded into a CUDA graph has not
    run yet; its replays are counted by :class:`aecourse.cuda_graphs.GraphedStep`."""
    if not (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing()):
        count_steps(1)


def save_progress() -> None:
    """Write the running lesson's results file now (after training, to keep its step count)."""
    if _current is not None:
        _current.save()


def start_lesson(
    lesson: str,
    *,
    profile: str | None = None,
    data_source: str | None = None,
    photo_source: str | None = None,
    device: str | None = None,
    results_path: str | Path | None = None,
    data: str = "mnist",
) -> Lesson:
    """Settle the lesson's profile, data source and device, print them, and open its results.

    ``data="mnist"`` lessons take ``data_source``; ``data="photos"`` lessons (colorization)
    take ``photo_source``, a name from :data:`aecourse.profiles.PHOTO_SOURCES` or a folder.
    """
    global _current, _step_hook
    profile_name, profile_why = choose_profile(profile)
    if data not in ("mnist", "photos"):
        raise ValueError(f"data must be 'mnist' or 'photos', got {data!r}.")
    if data == "photos":
        source, source_why = choose_photo_source(photo_source, profile_name)
    else:
        source, source_why = choose_data_source(data_source, profile_name)
    dev = choose_device(device)
    threads = pin_cpu_threads(profile_name, dev)
    path = Path(results_path) if results_path else None
    key = "data_source" if data == "mnist" else "photo_source"
    _current = Lesson(lesson, profile_name, None, None, dev, path)
    setattr(_current, key, source)
    _current.context.update(
        {"lesson": lesson, "profile": profile_name, key: source, "device": str(dev),
         "device_name": device_name(dev), "threads": threads}
    )  # fmt: skip
    if _step_hook is None:
        _step_hook = register_optimizer_step_post_hook(_count_optimizer_step)
    _current.save()
    print(f"Lesson {lesson} | profile: {profile_name} ({profile_why})")
    on = f"{dev} ({threads} threads)" if dev.type == "cpu" else str(dev)
    print(f"{key.replace('_', ' ')}: {source} ({source_why}) | device: {on}")
    if profile_name == "full" and dev.type == "cpu":
        print(full_profile_on_cpu_warning([lesson]))
    return _current


def current_lesson() -> Lesson:
    if _current is None:
        raise RuntimeError("No lesson started: call aecourse.start_lesson(...) first.")
    return _current


def _plain(value):
    """Turn tensors and NumPy scalars into JSON numbers; refuse NaN, which JSON cannot hold."""
    if isinstance(value, torch.Tensor):
        value = value.item()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"Cannot record a non-finite number ({value}); the run went wrong.")
    return value


def record(name: str, value) -> None:
    """Record one of the lesson's key numbers (e.g. ``record("val_mse", 0.0177)``)."""
    lesson = current_lesson()
    lesson.metrics[name] = _plain(value)
    lesson.save()


def verdict(claim: str, holds: bool) -> None:
    """Print ``claim: True`` (or False) and record it: the lesson's checks, in summary.json."""
    lesson = current_lesson()
    lesson.verdicts[claim] = bool(holds)
    lesson.save()
    print(f"{claim}: {bool(holds)}")


def verdict_on_margin(claim: str, margin: float, spread: float, unit: str = "") -> bool | None:
    """Judge ``claim`` on a measured ``margin`` (how far the measurement lies past the claim's
    line: positive holds) that another CPU kind moves by up to ``spread``; print and record it.

    Training on another CPU sums in another order and ends a few last digits apart
    (``benchmarks/cpu_kinds.py`` measures by how much). A margin wider than that spread gives
    the same True or False on every CPU; one inside it prints "too close to call" and records
    None, because another machine could answer the other way and this run cannot settle it.
    What is printed does not depend on the margin's last digits, so nbval can check it.
    """
    if not math.isfinite(margin):
        raise ValueError(f"The margin for {claim!r} is {margin}: the run went wrong; rerun it.")
    if not (math.isfinite(spread) and spread >= 0):
        raise ValueError(f"The spread for {claim!r} must be a number >= 0, got {spread}.")
    holds = None if abs(margin) <= spread else margin > 0
    lesson = current_lesson()
    lesson.verdicts[claim] = holds
    lesson.save()
    shown = verdict_text(holds)
    if holds is None:
        shown += f" (within the {spread:g}{unit} that CPU kinds move it)"
    print(f"{claim}: {shown}")
    return holds


def verdict_text(holds: bool | None) -> str:
    """How a recorded verdict reads: ``True``, ``False``, or None's "too close to call"."""
    return "too close to call" if holds is None else str(bool(holds))


def record_context(**values) -> None:
    """Record facts about the run that are not metrics, e.g. the data source actually used."""
    lesson = current_lesson()
    lesson.context.update({k: _plain(v) for k, v in values.items()})
    lesson.save()
