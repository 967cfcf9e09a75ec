# Lantian — the two commands a new machine needs: `make demo` and `make test`.
SHELL := /bin/bash
PY    := .venv/bin/python
UV    := .venv/bin/uv
DB    ?= demo/lantian-demo.duckdb
export LANTIAN_DATASETS ?= $(abspath ../shared/datasets)

.PHONY: demo test venv system-deps lint typecheck bench clean

.venv/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv .venv
	@test -x $(UV) || $(PY) -m pip install -q "uv>=0.4,<1"
	$(UV) sync --frozen --extra dev --inexact --compile-bytecode
	@$(PY) -m compileall -q src >/dev/null  # .pyc: PYTHONDONTWRITEBYTECODE=1 would recompile every start
	@$(PY) -c "from lantian.hj212.scan import warm; warm()"  # numba cache of the HJ 212 scanner
	@touch $@

venv: .venv/.installed

# Debian packages: headless Chromium for the browser tests, CJK fonts for PDF reports,
# poppler-utils (pdftotext) to read reports back.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v pdftotext >/dev/null \
	   || ! fc-list 2>/dev/null | grep -qi "cjk"; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium fonts-noto-cjk poppler-utils >/dev/null; \
	  else echo "warning: run as root to install chromium, fonts-noto-cjk, poppler-utils" >&2; fi; \
	fi

# The suite, then lint (ruff, mypy): a lint failure fails the build even when every test
# passes; pytest's own exit code is kept otherwise (5 = no tests, which .ci/run accepts).
# One pytest worker per core (pytest-xdist), a module's tests on one worker (they share its
# fixtures): the suite waits on subprocesses, Spark and Chromium about half of its time.
# The 25 slowest tests are listed at the end: CI must stay under 30 minutes.
PYTEST_WORKERS ?= auto
test: venv system-deps
	@rc=0; $(PY) -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadscope --durations=25 || rc=$$?; \
	$(MAKE) --no-print-directory lint || { if [ $$rc -eq 0 ] || [ $$rc -eq 5 ]; then rc=1; fi; }; \
	exit $$rc

lint: venv
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/mypy src/lantian/hj212 src/lantian/catalog

demo: venv system-deps
	$(PY) -m lantian.demo.run --db $(DB)

clean:
	rm -rf .venv build dist demo/*.duckdb*
