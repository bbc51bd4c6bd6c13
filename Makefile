# The two commands: `make run` and `make test`. Both create .venv and install exactly the
# locked dependency set (requirements.lock), then the project itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
PIP_VERSION := 26.3
# torch comes from the lock like everything else (one release everywhere). Without an
# NVIDIA GPU, pip takes that release's CPU build where one lies on local disk (this
# project's machines); with a GPU, the local CPU build is skipped for PyPI's CUDA build.
HAS_NVIDIA := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
# the `gpu` extra, pinned like the lock (it is not in the lock: CI machines have no GPU)
PYNVVIDEOCODEC := PyNvVideoCodec==2.2.4
ifeq ($(HAS_NVIDIA),yes)
TORCH_ENV := PIP_FIND_LINKS=
else
TORCH_ENV :=
endif

.PHONY: run test install clean bench lock test-min check-ffmpeg gpu-wheels gpu-check

# pip speaks only on errors (-qq), and the build backend's notices about editable
# installs are not the user's business (PYTHONWARNINGS reaches its subprocess).
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip --quiet --quiet

$(BIN)/farm: pyproject.toml $(LOCK)
	@echo "installing the locked dependency set into $(VENV) (first time: a minute or two)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install "pip==$(PIP_VERSION)"
	@$(TORCH_ENV) $(PIP) install "$$(grep '^torch==' $(LOCK))"
ifeq ($(HAS_NVIDIA),yes)
	@$(BIN)/python -c 'import sys, torch; sys.exit("+cpu" in torch.__version__)' || \
	    PIP_FIND_LINKS= $(PIP) install --force-reinstall "$$(grep '^torch==' $(LOCK))"
	@$(PIP) install "$(PYNVVIDEOCODEC)"
endif
	@$(PIP) install -r $(LOCK)
	@$(PIP) install --no-deps --no-build-isolation -e .
	@touch $(BIN)/farm

install: $(BIN)/farm

run: install
	$(BIN)/farm demo --out demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/farm bench mashup

# Regenerate requirements.lock from pyproject.toml's ranges (newest versions they allow,
# torch held at the release whose CPU build lies on local disk).
lock:
	test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet "pip==$(PIP_VERSION)" "pip-tools==7.6.2")
	echo "torch==2.13.0" > .venv-lock/torch.txt
	.venv-lock/bin/pip-compile --quiet --no-header --strip-extras --allow-unsafe --all-build-deps \
	    --extra test --extra bench --no-emit-index-url --no-emit-find-links -c .venv-lock/torch.txt \
	    -o $(LOCK).new pyproject.toml
	@! grep -qE '^(nvidia-|triton==)' $(LOCK).new || { rm -f $(LOCK).new; \
	    echo "make lock: pip-compile chose a CUDA build of torch; run it where torch's CPU build lies on local disk" >&2; exit 1; }
	{ echo "# The locked dependency set: exactly what 'make run' and 'make test' install and CI tests."; \
	  echo "# Regenerate with 'make lock' (pip-compile from pyproject.toml's ranges)."; \
	  sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/' $(LOCK).new; } > $(LOCK)
	rm -f $(LOCK).new

# The oldest versions pyproject.toml allows, installed and tested in .venv-min: the lower
# bounds are claims, and this checks them.
test-min:
	test -x .venv-min/bin/python || $(PYTHON) -m venv .venv-min
	.venv-min/bin/python -m pip install --quiet "pip==$(PIP_VERSION)" "setuptools>=77" wheel
	.venv-min/bin/python -c "import re, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	  deps = p['dependencies'] + p['optional-dependencies']['test'] + p['optional-dependencies']['bench']; \
	  print('\n'.join(sorted({re.sub(r'>=([^,]+),.*', r'==\1', d) for d in deps})))" > .venv-min/lowest.txt
	.venv-min/bin/python -m pip install --quiet -r .venv-min/lowest.txt
	.venv-min/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	.venv-min/bin/python -m pytest -q

# The same pictures on FFmpeg 7 and FFmpeg 8: renders the colour bars losslessly with the
# lock's PyAV and with .venv-min's (av 15, FFmpeg 7.1; made by test-min) and compares.
check-ffmpeg: install
	test -x .venv-min/bin/farm || $(MAKE) test-min
	FARM_OTHER_PYTHON=.venv-min/bin/python $(BIN)/python -m pytest -q tests/test_colour.py -k another_ffmpeg

# The one-call GPU check (benchmarks/gpu_check.py) on a GPU machine with Python 3.12, torch
# and pytest but no internet: `make gpu-wheels` here downloads what it installs there
# (PyAV and the fonts at the lock's versions, PyNvVideoCodec; about 63 MiB) into .whl/.
GPU_WHEEL_PY := 3.12
gpu-wheels:
	mkdir -p .whl
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version $(GPU_WHEEL_PY) \
	    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
	    "$$(grep '^av==' $(LOCK))" "$$(grep '^fontpkg==' $(LOCK))" "$$(grep '^fontpkg-noto-sans==' $(LOCK))" \
	    "$$(grep '^fontpkg-be-vietnam-pro==' $(LOCK))" "$$(grep '^fontpkg-noto-sans-thai==' $(LOCK))" \
	    "$(PYNVVIDEOCODEC)"
	@du -ch .whl/*.whl | tail -1

# Run it (there): results in $(OUT), the summary's last line `N passed, N failed`.
OUT ?= gpu-check
gpu-check:
	$(PYTHON) benchmarks/gpu_check.py $(OUT)

clean:
	rm -rf $(VENV) .venv-lock .venv-min demo build *.egg-info .whl gpu-check
