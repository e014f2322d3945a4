"""The instructor's room: tools that run, hand out, grade and publish the lessons.

Nothing in the lessons imports this package (they import the helpers one level up), and
nothing up there imports it either. One module per verb or idea, as otter-grader keeps a
sub-package per verb:

* ``lessons``: where the lesson notebooks are, the settings their committed outputs come
  from, and executing them in place (``make refresh``);
* ``runner``: running the course end to end with papermill into ``summary.json``;
* ``kernels``: the Jupyter kernels these tools start (local, or inside the sandbox);
* ``markup``: nbgrader's markers in a lesson, and the exercises they describe;
* ``release``: the student versions, released with nbgrader and checked for leaks;
* ``sandbox``: where a student's code runs (bubblewrap);
* ``review``, ``checking``, ``feedback``, ``gradebook``, ``grading``: autograding a class
  (static review, the fresh check per exercise, feedback pages, the written grades, the
  class loop);
* ``editions``, ``book``, ``slides``, ``lab``: the student and instructor editions, the
  Jupyter Book, reveal.js slides and a learner's JupyterLab.

This file holds only the defaults that the command line shows in its help, so that
``python -m aecourse`` loads each tool only for its own verb.
"""

import os

COURSE_DIR = "classroom"  # nbgrader's course folder: source/, release/, gradebook.db
CELL_TIMEOUT = 300  # seconds per cell of a graded notebook's run (the longest lesson cell ~90)
NOTEBOOK_TIMEOUT = 600  # seconds for a whole graded notebook, whatever its cells' limits
WORKERS = os.cpu_count() or 1  # notebooks graded at a time: each computes on one thread
EDITIONS = ("student", "instructor")
