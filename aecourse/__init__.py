"""aecourse: helpers for a Jupyter-first course on autoencoders.

One module per concern: ``profiles`` (quick/full, device, the colorization budget), ``data``
(MNIST), ``photos`` (colour photos), ``colour`` (Lab), ``noise``, ``models``, ``losses``,
``train`` (``fit``, ``fit_together``, ``fit_many``), ``cuda_graphs`` (a training step recorded
once and replayed on a GPU), ``metrics``, ``baselines``, ``plots``, ``widgets``, ``checks``
(exercises), ``results`` (what a lesson records) and ``running`` (the course runner behind
``python -m aecourse run``). Instructor tooling lives apart: ``assignments`` (nbgrader
releases), ``grading`` (autograde), ``sandbox`` (what student code runs in) and ``publish``
(the book and slides).
"""

from aecourse.results import record, record_context, start_lesson, verdict

__all__ = ["record", "record_context", "start_lesson", "verdict"]
__version__ = "0.1.0"
