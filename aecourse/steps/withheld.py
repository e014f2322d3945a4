"""The package's copies of a lesson's steps, withheld: what a graded answer cannot reach.

The package holds a copy of every piece a lesson builds (the references the checks compare
with). A step's points must come from the learner's own code, so wherever a step is judged,
the copies of that lesson's steps are not there to be called, subclassed or delegated to:

* at grading, the sandboxed notebook sees a copy of the package whose source no longer has
  them (:mod:`aecourse.teach.views` writes it): each is a :class:`Withheld` placeholder;
* in the learner's own kernel and in ``python -m aecourse check``, :func:`withholding` puts
  the same placeholders in the package's modules (and in the answer's own globals) while the
  answer runs, so that the three give the same verdict for the same notebook.

A placeholder raises :class:`WithheldError` when it is called, subclassed or read from, with
a message that says what to do instead.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterable, Iterator
from typing import Any


class WithheldError(RuntimeError):
    """An answer used the package's copy of a step that it should write itself."""


def withheld_message(where: str, lesson: str) -> str:
    return (
        f"{where} is withheld while Lesson {lesson}'s steps are judged: "
        "write the step in your notebook, do not take the package's copy"
    )


class Withheld:
    """Stands where the package's copy ``where`` (e.g. ``aecourse.models.LinearEncoder``) was:
    calling it, subclassing it or reading an attribute of it raises :class:`WithheldError`."""

    def __init__(self, where: str, lesson: str):
        object.__setattr__(self, "_message", withheld_message(where, lesson))

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise WithheldError(object.__getattribute__(self, "_message"))

    __call__ = _refuse
    __mro_entries__ = _refuse  # class Mine(Withheld...): refused where it is written

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # copy, pickle and inspect probe these
        self._refuse()

    def __setattr__(self, name: str, value: Any) -> None:
        self._refuse()

    def __repr__(self) -> str:
        return "<withheld: " + object.__getattribute__(self, "_message").split(" is ")[0] + ">"


def reference_of(step: Any) -> tuple[str, str]:
    """(module, name) of a step's package copy, e.g. ("aecourse.models", "LinearEncoder")."""
    reference = step.reference()
    return reference.__module__, reference.__name__


def answer_globals(answer: Any) -> dict | None:
    """The module namespace an answer's code looks names up in (a notebook's globals), which
    :func:`withholding` must also clean: a name there may hold the package's copy."""
    functions = [answer] if callable(answer) and hasattr(answer, "__globals__") else []
    if isinstance(answer, type):
        for value in vars(answer).values():
            value = getattr(value, "__func__", value)
            if hasattr(value, "__globals__"):
                functions.append(value)
    return functions[0].__globals__ if functions else None


@contextlib.contextmanager
def withholding(steps: Iterable[Any], lesson: str, *spaces: dict | None) -> Iterator[None]:
    """While inside, each of ``steps``' package copies is a :class:`Withheld` placeholder in
    its module and wherever one of ``spaces`` (namespaces, e.g. a notebook's globals) holds
    it under any name. Everything is put back on the way out."""
    # Every module first: one imported while another's copy is already withheld would keep
    # the placeholder (``from aecourse.noise import gaussian_noise`` in aecourse.loop).
    found = []
    for step in steps:
        module_name, name = reference_of(step)
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        found.append((module, module_name, name, getattr(module, name)))
    undo: list[tuple[Any, str, Any]] = []
    try:
        for module, module_name, name, original in found:
            stand_in = Withheld(f"{module_name}.{name}", lesson)
            undo.append((module, name, original))
            setattr(module, name, stand_in)
            for space in spaces:
                for key, value in list((space or {}).items()):
                    if value is original:
                        undo.append((space, key, value))
                        space[key] = stand_in
        yield
    finally:
        for target, key, value in reversed(undo):
            if isinstance(target, dict):
                target[key] = value
            else:
                setattr(target, key, value)


def is_taken(answer: Any, reference: Any) -> bool:
    """Whether ``answer`` is the package's copy itself, a subclass of it, or the stand-in for
    it (:func:`aecourse.steps.stand_in`)."""
    if answer is reference or isinstance(answer, Withheld):
        return True
    if getattr(answer, "_aecourse_stand_in", None):
        return True
    both = isinstance(answer, type) and isinstance(reference, type)
    return both and issubclass(answer, reference)
