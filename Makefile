# Two commands do all the set-up on a fresh machine:
#   make train   train the fast-weights A3C agent on Catch-v0 with good defaults
#   make test    lint, run the test suite and build the docs (tests/test_docs.py)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU build of torch (on these machines a local wheel; elsewhere a pip index).
TORCH  ?= torch==2.13.0
TORCH_INDEX ?=

.PHONY: venv train test lint bench clean

# a stamp per torch requirement: changing TORCH (or TORCH_INDEX) reinstalls
TORCH_STAMP := $(VENV)/.torch-$(shell printf '%s %s' '$(TORCH)' '$(TORCH_INDEX)' | cksum | cut -d' ' -f1)

$(TORCH_STAMP):
	mkdir -p $(VENV)
	rm -f $(VENV)/.torch-*
	touch $@

$(VENV)/.installed: pyproject.toml $(TORCH_STAMP)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_INDEX) "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	# MiniGrid's memory tasks; --no-deps: its pygame-ce would replace the pygame we use
	$(PY) -m pip install --quiet --no-deps "minigrid>=2.3,<4"
	$(PY) -m fw_rl.cores --warm-up  # compile the cores' numba kernels now, not in the first run
	touch $@

venv: $(VENV)/.installed

# scripts/a3c.py's defaults are this target's: a worker per CPU core with 16 boards each
# (2 x 16 on a 2-core machine; docs/guide/training.md has the classic 16 x 1), at most 15
# minutes. The return to stop at is Catch-v0's, not a default, so it is given here.
TRAIN_ARGS ?= --stop-at-return 0.95

train: venv
	$(PY) scripts/a3c.py --core fastweights $(TRAIN_ARGS) $(ARGS)

# the tests run on every logical CPU (pytest-xdist); the Ray tests share one worker (conftest.py)
PYTEST_WORKERS ?= -n logical

test: venv
	$(VENV)/bin/ruff check .
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(PY) -m pytest -q $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: venv
	$(PY) benchmarks/bench_env.py
	$(PY) benchmarks/bench_cores.py
	$(PY) benchmarks/bench_fast_weights_ops.py
	$(PY) benchmarks/bench_a3c.py

clean:
	rm -rf $(VENV) runs .pytest_cache
