# Two commands on a fresh machine (see README.md):
#   make lab    install the course into .venv and open JupyterLab
#   make test   install the course into .venv and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LAB_ARGS ?=
PYTEST_ARGS ?=

.PHONY: install lab test test-tensorflow test-jax clean

install: $(INSTALLED)

# Re-install whenever the pins or the package metadata change.
$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

# JupyterLab refuses to start as root (a container, a cloud VM) unless told --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install
	$(BIN)/jupyter lab --notebook-dir="$(CURDIR)" $(ALLOW_ROOT) $(LAB_ARGS)

# TensorFlow (the course's backend) runs everything; layers, diagnostics and the small model
# builders, and training run again on JAX. The ImageNet-size parameter counts (test_resnet.py,
# test_densenet.py) are backend-independent and take JAX minutes to compile, so they run once.
JAX_TESTS := tests/layers tests/test_diagnostics.py tests/test_training.py tests/test_distribution.py tests/test_export.py \
	tests/test_docstrings.py tests/test_saving.py \
	$(filter-out tests/models/test_resnet.py tests/models/test_densenet.py,$(wildcard tests/models/test_*.py))

test: test-tensorflow test-jax

test-tensorflow: install grading-sandbox
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest $(PYTEST_ARGS)

test-jax: install
	KERAS_BACKEND=jax $(BIN)/python -m pytest $(JAX_TESTS) $(PYTEST_ARGS)

# Builds a fresh environment from binder/ alone, as repo2docker would, and runs lesson 01 in it.
.PHONY: test-binder
test-binder: install
	RESLIB_BINDER_TEST=1 $(BIN)/python -m pytest tests/notebooks/test_binder.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(BINDER_VENV) build dist *.egg-info .pytest_cache

# Issue 8's benchmarks (tens of minutes on a CPU: run them on an otherwise idle machine). The
# table is printed and recorded in benchmarks/results/<date>-<machine>.json. Select sections with
# e.g. BENCH_ARGS="--only models,cifar"; "--only make-test" times the whole test suite.
BENCH_ARGS ?=
.PHONY: bench
bench: install
	KERAS_BACKEND=tensorflow $(BIN)/python -m benchmarks $(BENCH_ARGS)

# The lessons' quick-mode time and kernel memory in the environment Binder builds: a virtual
# environment from binder/requirements.txt (tensorflow-cpu, whose import alone is about 120 MiB
# smaller than tensorflow's) plus binder/postBuild, recorded as <date>-<machine>-binder.json.
BINDER_VENV ?= .binder-venv
$(BINDER_VENV)/.installed: binder/requirements.txt
	test -x $(BINDER_VENV)/bin/python || $(PYTHON) -m venv $(BINDER_VENV)
	$(BINDER_VENV)/bin/python -m pip install -r binder/requirements.txt
	touch $@

.PHONY: bench-binder
bench-binder: $(BINDER_VENV)/.installed
	PATH="$(abspath $(BINDER_VENV))/bin:$$PATH" bash binder/postBuild   # this checkout's reslib
	KERAS_BACKEND=tensorflow $(BINDER_VENV)/bin/python -m benchmarks --only lessons --label binder $(BENCH_ARGS)

# The graded exercises (INSTRUCTORS.md): regenerate exercises/ from solutions/ with nbgrader, and
# grade the simulated class (honest and hostile students) on every exercise in a temporary course
# directory with the safe grading tool, python -m reslib.grading (sandboxed kernels, in parallel).
.PHONY: exercises grade-demo grading-sandbox
exercises: install
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python tests/grading/pipeline.py exercises

grade-demo: install grading-sandbox
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python tests/grading/pipeline.py demo

# reslib.grading runs every student's kernel inside bubblewrap (Debian/Ubuntu package
# `bubblewrap`). As root (CI) it is installed here; an ordinary user is told the one command.
grading-sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap; \
	  else echo "reslib.grading needs bubblewrap: run  sudo apt-get install -y bubblewrap" >&2; \
	    exit 1; fi; }
