# Two commands do all set-up on a fresh machine (a .venv is created on first use):
#   make course   run every lesson end to end (papermill) -> runs/<timestamp>/summary.json
#   make test     ruff, unit tests, and nbval over every lesson
# Also: make lab (JupyterLab on your own copies of the lessons, in work/), make refresh
#       (re-execute the committed lessons), make bench (pipeline and training-step timings);
#       for instructors: make lab-instructor (the sources, with solutions), make release,
#       make autograde SUBMISSIONS=folder, make marks (the written answers' marks), make book,
#       make slides (EDITION=instructor: with the solutions; the default is the student edition).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Extra arguments for the verb, e.g. make course ARGS="--profile full --lessons 01",
# make release ARGS="--lessons 01 03", make autograde ARGS="--workers 4"
ARGS ?=
SUBMISSIONS ?= submissions
MARKS ?= classroom/grades/written_answers.csv
EDITION ?= student

# The committed lesson outputs are the quick profile's on the CPU (2 threads); nbval re-runs them so.
REFERENCE_ENV := AECOURSE_PROFILE=quick AECOURSE_DEVICE=cpu AECOURSE_PROGRESS=0 OMP_NUM_THREADS=2

.PHONY: course test system lab lab-instructor refresh bench release autograde marks book slides \
	install clean

install: $(STAMP)

# pip's own output goes to $(VENV)/install.log (shown if the install fails): the console gets
# one line before and one after.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the course and its packages into $(VENV) (minutes the first time; log: $(VENV)/install.log)"
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[test]'; } \
		> $(VENV)/install.log 2>&1 || { tail -n 30 $(VENV)/install.log; exit 1; }
	@$(PY) -c "import torch, torchvision; print('Installed: torch', torch.__version__, '| torchvision', torchvision.__version__)"
	@touch $(STAMP)

course: $(STAMP)
	@$(PY) -m aecourse run $(ARGS)

# The browser test drives Debian's chromium, and grading isolates notebooks with bubblewrap:
# install them when missing (root + apt-get).
system:
	@sh tests/install-system-packages.sh

test: $(STAMP) system
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(REFERENCE_ENV) $(PY) -m pytest tests lessons --nbval-lax --nbval-current-env

lab: $(STAMP)
	@$(PY) -m aecourse lab

lab-instructor: $(STAMP)
	@$(VENV)/bin/jupyter lab lessons/ --KernelManager.transport=ipc \
		--KernelManager.ip=$$(mktemp -d)/kernel $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

refresh: $(STAMP)
	@$(PY) -m aecourse refresh

bench: $(STAMP)
	$(PY) benchmarks/pipeline.py
	$(PY) benchmarks/step.py

release: $(STAMP)
	@$(PY) -m aecourse release $(ARGS)

# Extra flags in ARGS, e.g. ARGS="--workers 4" or, where bubblewrap cannot run, ARGS=--without-isolation
autograde: $(STAMP)
	@sh tests/install-system-packages.sh bubblewrap
	@$(PY) -m aecourse autograde $(SUBMISSIONS) $(ARGS)

# The marks of written answers, typed in the score column of the file grading wrote
marks: $(STAMP)
	@$(PY) -m aecourse marks $(MARKS) --course classroom $(ARGS)

book: $(STAMP)
	@$(PY) -m aecourse book --edition $(EDITION)

slides: $(STAMP)
	@$(PY) -m aecourse slides --edition $(EDITION)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache book/_build book/lessons book/node_modules \
		book/_vendor
