# EchoCare Studio: every target sets itself up on a fresh machine.
# A user with an NVIDIA GPU can pick a CUDA build of torch, e.g.
#   make run TORCH_SPEC=torch==2.13.0 TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cu128
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE ?= resources/samples/cardiac_lv_cine.dcm
DEMO_OUT ?= out/demo

.PHONY: run demo test lint bench bundle bundle-smoke clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(TORCH_SPEC) $(TORCH_INDEX)
	$(BIN)/pip install -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/echocare-studio $(SAMPLE)

demo: $(STAMP)
	$(BIN)/python -m app.cli.demo --sample $(SAMPLE) --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check app engine training tests bench tools
	$(BIN)/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# One-folder PyInstaller bundles in $(BUNDLE_DIST): full (torch, training) and viewer-only (ONNX Runtime).
BUNDLE_DIST ?= build/dist
PYINSTALLER := nice $(BIN)/pyinstaller --noconfirm --distpath $(BUNDLE_DIST) --workpath build/pyinstaller

bundle: $(STAMP)
	$(BIN)/pip install -q 'pyinstaller>=6.10'
	$(PYINSTALLER) build.spec
	ECHOCARE_FLAVOUR=viewer $(PYINSTALLER) build.spec
	$(BIN)/python tools/bundle_smoke.py --dist $(BUNDLE_DIST) --sizes-only

bundle-smoke: $(STAMP)
	$(BIN)/python tools/bundle_smoke.py --dist $(BUNDLE_DIST)

clean-venv:
	rm -rf $(VENV)
