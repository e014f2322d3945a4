# Two commands do all set-up on a fresh machine (a .venv is created on first use):
#   make course   run every lesson end to end (papermill) -> runs/<timestamp>/summary.json
#   make test     ruff, unit tests, and nbval over every lesson
# Also: make lab (JupyterLab on your own copies of the lessons, in work/), make refresh
#       (re-execute the committed lessons), make bench (pipeline and training-step timings);
#       for instructors: make lab-instructor (the sources, with solutions), make release,
#       make autograde SUBMISSIONS=folder, make book, make slides (EDITION=instructor: with
#       the solutions; the default is the student edition).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Extra arguments for `python -m aecourse run`, e.g. make course ARGS="--profile full --lessons 01"
ARGS ?=
SUBMISSIONS ?= submissions
EDITION ?= student

# The committed lesson outputs are the quick profile's on the CPU (2 threads); nbval re-runs them so.
REFERENCE_ENV := AECOURSE_PROFILE=quick AECOURSE_DEVICE=cpu AECOURSE_PROGRESS=0 OMP_NUM_THREADS=2

.PHONY: course test system lab lab-instructor refresh bench release autograde book slides \
	install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -c "import torch, torchvision; print('torch', torch.__version__, '| torchvision', torchvision.__version__)"
	touch $(STAMP)

course: $(STAMP)
	$(PY) -m aecourse run $(ARGS)

# The browser test drives Debian's chromium, and grading isolates notebooks with bubblewrap:
# install them when missing (root + apt-get).
system:
	@sh tests/install-system-packages.sh

test: $(STAMP) system
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(REFERENCE_ENV) $(PY) -m pytest tests lessons --nbval-lax --nbval-current-env

lab: $(STAMP)
	$(PY) -m aecourse lab

lab-instructor: $(STAMP)
	$(VENV)/bin/jupyter lab lessons/

refresh: $(STAMP)
	$(PY) -m aecourse refresh

bench: $(STAMP)
	$(PY) benchmarks/pipeline.py
	$(PY) benchmarks/step.py

release: $(STAMP)
	$(PY) -m aecourse release

autograde: $(STAMP)
	@sh tests/install-system-packages.sh bubblewrap
	$(PY) -m aecourse autograde $(SUBMISSIONS)

book: $(STAMP)
	$(PY) -m aecourse book --edition $(EDITION)

slides: $(STAMP)
	$(PY) -m aecourse slides --edition $(EDITION)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache book/_build book/lessons book/node_modules \
		book/_vendor
