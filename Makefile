# The README's two commands: `make demo` and `make test`. Both start from `make install`,
# which needs nothing but Python 3.11+ and make: uv is bootstrapped into .tools/ if missing.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint mlflow-ui bench clean

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on this
# machine) every `retain` process otherwise compiled ~1,500 modules again, 6.7 s of a
# 24.5 s `retain evaluate campaign`.
SYNC := $(UV) sync --locked --compile-bytecode
COMPILE_OWN := .venv/bin/python -m compileall -q common features training serving evaluation simulation retain

install: $(UV)
	$(SYNC)
	$(COMPILE_OWN)

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

demo: install
	.venv/bin/retain demo
	.venv/bin/retain demo campaign --out outputs/campaign-demo

# PySpark (~470 MB) is an optional extra; the tests need it to prove both engines agree,
# and the PostgreSQL and Redis clients to test those back ends on real servers. The import
# contract in pyproject.toml (lint-imports) keeps the floors apart.
TEST_EXTRAS := --extra spark --extra postgres --extra redis
# One OpenMP / BLAS thread per test worker: LightGBM's threads busy-wait, and two fits of
# two threads each on two cores took 35x as long as one alone (bench/threads.py).
TEST_THREADS ?= 1
test: $(UV)
	$(SYNC) $(TEST_EXTRAS)
	$(COMPILE_OWN)
	.venv/bin/lint-imports
	OMP_NUM_THREADS=$(TEST_THREADS) OPENBLAS_NUM_THREADS=$(TEST_THREADS) \
		.venv/bin/pytest -n $(PYTEST_WORKERS) --dist loadscope --durations=30

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

mlflow-ui: install
	.venv/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db

bench: $(UV)
	$(SYNC) $(TEST_EXTRAS)
	.venv/bin/python bench/features.py

clean:
	rm -rf data outputs bench/out .pytest_cache
