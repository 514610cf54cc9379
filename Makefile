# PlantPulse developer entry points. `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := constraints.txt
PYTEST_ARGS ?=
FAST := not slow and not real_data and not integration and not browser and not postgres

.PHONY: demo test test-fast lint bench lock chromium clean help shipped-model

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade "pip>=24"

$(VENV)/.installed-base: pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP) install -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP) install -c $(CONSTRAINTS) -e '.[dev,distributed]'
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base  ## load the bundled sample, train/score, serve the dashboard on :8501
	$(VENV)/bin/plantpulse demo

SHIPPED_HOME ?= .plantpulse-shipped
# what both shipped models share: the tiny preset, one CPU thread, seed 0
SHIPPED_TRAIN = OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/plantpulse --home $(SHIPPED_HOME) train \
	--preset tiny --batch-size 64 --lr 0.002 --seed 0 --device cpu --threads 1 --no-register --quiet \
	--model-option patch_len=8 --model-option max_text_len=48 --model-option image_size=64
shipped-model: $(VENV)/.installed-base  ## retrain the demo's MoE checkpoints (turbofan RUL, bearing fault) into model/shipped/ (needs PLANTPULSE_DATASETS)
	rm -rf $(SHIPPED_HOME)
	$(SHIPPED_TRAIN) --name plantpulse-cwru --datasets cwru --tasks fault:bearing \
	  --pretrain-epochs 0 --finetune-epochs 10 --distill-epochs 6 '--dataset-option=cwru.channels=["drive_end_accel"]'
	cp $(SHIPPED_HOME)/models/plantpulse-cwru-teacher-v1.safetensors model/shipped/plantpulse-teacher-cwru.safetensors
	cp $(SHIPPED_HOME)/models/plantpulse-cwru-student-v1.safetensors model/shipped/plantpulse-student-cwru.safetensors
	$(SHIPPED_TRAIN) --name plantpulse-cmapss --datasets cmapss --tasks rul:turbofan \
	  --pretrain-epochs 2 --finetune-epochs 12 --distill-epochs 6 \
	  '--dataset-option=cmapss.subsets=["FD001"]' --dataset-option=cmapss.window=50
	cp $(SHIPPED_HOME)/models/plantpulse-cmapss-teacher-v1.safetensors model/shipped/plantpulse-teacher-cmapss.safetensors
	cp $(SHIPPED_HOME)/models/plantpulse-cmapss-student-v1.safetensors model/shipped/plantpulse-student-cmapss.safetensors

chromium:  ## install headless Chromium + chromedriver for the browser tests (Debian)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium not installed and no root: browser tests will be skipped"; fi; \
	fi

test: $(VENV)/.installed-dev chromium  ## the whole test suite (PostgreSQL/real-data tests run when configured)
	@rc=0; $(PY) -m pytest --durations=20 $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: $(VENV)/.installed-dev  ## ruff (pyflakes, isort, bugbear, pyupgrade) and mypy on the five packages
	$(VENV)/bin/ruff check app model pipelines connectors data tests benchmarks
	$(VENV)/bin/mypy

test-fast: $(VENV)/.installed-dev  ## unit tests only (seconds)
	$(PY) -m pytest -m "$(FAST)" $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev  ## run the benchmarks (see docs/benchmarks.md)
	$(PY) -m benchmarks.run_all

lock:  ## refresh constraints.txt from the current environment
	$(PIP) freeze --exclude-editable | grep -v '^plantpulse' > $(CONSTRAINTS)

clean:  ## remove the demo's state folder (database, images, models)
	rm -rf .plantpulse
