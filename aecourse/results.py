"""The results contract: each lesson records its key numbers into one JSON file.

A lesson starts with :func:`start_lesson`, which settles profile, data source and device
(and says why), and ends up calling :func:`record` for each number worth keeping. The file's
path is the papermill parameter ``results_path``; the course runner gathers the files into
``summary.json``. Without a path (a student in JupyterLab) the numbers are only kept in memory.
The file is rewritten on every call, so the numbers of the cells that ran survive a later
failure.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aecourse.profiles import (
    choose_data_source,
    choose_device,
    choose_photo_source,
    choose_profile,
)


@dataclass
class Lesson:
    """What a lesson runs with, and what it has recorded so far."""

    lesson: str
    profile: str
    data_source: str
    device: torch.device
    results_path: Path | None = None
    context: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def save(self) -> None:
        if self.results_path is None:
            return
        self.results_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"context": self.context, "metrics": self.metrics}
        tmp = self.results_path.with_name(self.results_path.name + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, self.results_path)


_current: Lesson | None = None


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
    global _current
    profile_name, profile_why = choose_profile(profile)
    if data not in ("mnist", "photos"):
        raise ValueError(f"data must be 'mnist' or 'photos', got {data!r}.")
    if data == "photos":
        source, source_why = choose_photo_source(photo_source, profile_name)
    else:
        source, source_why = choose_data_source(data_source, profile_name)
    dev = choose_device(device)
    path = Path(results_path) if results_path else None
    _current = Lesson(lesson, profile_name, source, dev, path)
    _current.context.update(
        lesson=lesson, profile=profile_name, data_source=source, device=str(dev)
    )
    _current.save()
    print(f"Lesson {lesson} | profile: {profile_name} ({profile_why})")
    print(f"data source: {source} ({source_why}) | device: {dev}")
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


def record_context(**values) -> None:
    """Record facts about the run that are not metrics, e.g. the data source actually used."""
    lesson = current_lesson()
    lesson.context.update({k: _plain(v) for k, v in values.items()})
    lesson.save()
