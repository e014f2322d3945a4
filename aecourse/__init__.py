"""aecourse: the helpers that the course's lessons import, one idea per module.

Data: ``data`` (MNIST as tensors), ``photos`` (where the colorization photos come from),
``photo_splits`` (photos as a data set, split by photo), ``photo_folder`` (a folder of your
own), ``photo_files`` (reading one photo), ``color`` (gray and Lab), ``noise``.
Models and training: ``models``, ``losses``, ``train`` (``fit``), ``train_many``
(``fit_together``, ``fit_many``), ``cuda_graphs``, ``checkpoints``.
Looking and measuring: ``metrics``, ``baselines``, ``plots``, ``widgets``, ``checks`` (the
exercises' checks). Running: ``profiles`` (quick or full, device) and ``results`` (what a
lesson records). The instructor's tools (runner, release, grading, sandbox, publishing) live
apart, in :mod:`aecourse.teach`; nothing here imports them.
"""

__all__ = ["record", "record_context", "start_lesson", "verdict", "verdict_on_margin"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``aecourse.start_lesson`` and friends, imported on first use: ``python -m aecourse``
    (the command line) then starts without loading torch."""
    if name in __all__:
        from aecourse import results

        return getattr(results, name)
    raise AttributeError(f"module 'aecourse' has no attribute {name!r}")
