# `make demo` and `make test` set themselves up: they create .venv when it is missing and
# install the project into it. Only Python 3.11+ is needed on the machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# The CPU build of torch is pinned: a bare `torch` range would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test lint typecheck bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# core install: enough for the demo
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

# everything the test suite exercises: dev tools and the optional extras
$(VENV)/.full: pyproject.toml $(VENV)/.core
	$(PIP) install $(TORCH_PIN)
	$(PIP) install -e '.[dev,torch,fast,sweep,ray,serve,notebook,export,mlflow,docs]'
	touch $@

demo: $(VENV)/.core
	$(BIN)/actscope demo

# Debian's chromium for the playground's browser tests (Playwright cannot download its own
# browser here). Installed when missing and we are root with apt-get; otherwise those tests skip.
$(VENV)/.browser: | $(BIN)/python
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
		|| echo "chromium could not be installed: the browser tests will skip"; fi
	@if [ -x /usr/bin/chromium ]; then touch $@; fi

test: $(VENV)/.full $(VENV)/.browser
	$(BIN)/python -m pytest -q

lint: $(VENV)/.full
	$(BIN)/ruff check src tests benchmarks

# mypy on src/ ([tool.mypy] in pyproject.toml: numpy's own stubs, no blanket ignores)
typecheck: $(VENV)/.full
	$(BIN)/mypy

# the documentation site into site/ (warnings are errors; builds offline)
docs: $(VENV)/.full
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(VENV)/.full
	$(BIN)/python benchmarks/bench_reproduce.py
	$(BIN)/python benchmarks/bench_ensemble.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) runs site .pytest_cache
