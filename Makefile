# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when absent.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The torch pair these machines carry on local disk (see pip's constraints); any torch>=1.8 works.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: venv demo test lint bench bench-speed bench-memory bench-startup bench-in-image services services-down ci clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The main job on the embedded example (a random-weight ResNet-50): answers, render, local
# smoke run, then build and in-image smoke run when a Docker engine has the base image.
demo: venv
	$(PY) -m wizard.demo

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m mypy

# Benchmarks print figures and ratios against a baseline measured in the same run.
bench: venv
	$(PY) bench/engine_vs_seed.py

bench-speed: venv
	$(PY) bench/speed.py --repeat 3 --compile

bench-memory: venv
	$(PY) bench/memory.py

bench-startup: venv
	$(PY) bench/startup.py

# Needs the Docker engine and the test base image (make services).
bench-in-image: venv
	$(PY) bench/in_image.py --repeat 3

# As root: dockerd, the test base image (torch 1.13) and registries on 127.0.0.1 for the tests.
services:
	bash scripts/test-env up

services-down:
	bash scripts/test-env down

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) demo .pytest_cache
