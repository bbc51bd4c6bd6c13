# The two commands: `make run` and `make test`. Both create .venv and install the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of torch when there is no NVIDIA GPU (it installs from local disk in seconds);
# the default (CUDA) build otherwise.
HAS_NVIDIA := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(HAS_NVIDIA),yes)
TORCH_SPEC := torch
else
TORCH_SPEC := torch==2.13.0
endif

.PHONY: run test install clean bench

$(BIN)/farm: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(BIN)/farm

install: $(BIN)/farm

run: install
	$(BIN)/farm demo --out demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/farm bench mashup

clean:
	rm -rf $(VENV) demo build *.egg-info
