# EchoCare Studio: every target sets itself up on a fresh machine, from the lock in requirements/.
# A user with an NVIDIA GPU picks a CUDA build of the locked torch version instead of the CPU build:
#   make run TORCH_SPEC=torch==2.13.0 TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cu128
PYTHON ?= python3
VENV ?= .venv
PIP_SPEC ?= pip==26.3
TORCH_SPEC ?= --require-hashes --no-deps -r requirements/torch-cpu.txt
TORCH_INDEX ?=
LOCK := requirements/lock.txt
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE ?= resources/samples/cardiac_lv_cine.dcm
DEMO_OUT ?= out/demo

.PHONY: run demo test lint test-tools bench bundle bundle-smoke lock clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_SPEC)

# torch first (the CPU build, hash-checked), then every other package exactly as locked, then the
# project itself without touching what the lock installed.
$(STAMP): $(LOCK) requirements/torch-cpu.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(TORCH_SPEC) $(TORCH_INDEX)
	$(BIN)/pip install --require-hashes -r $(LOCK)
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	touch $@

run: $(STAMP)
	$(BIN)/echocare-studio $(SAMPLE)

demo: $(STAMP)
	$(BIN)/python -m app.cli.demo --sample $(SAMPLE) --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check app engine training tests bench tools
	$(BIN)/lint-imports

# programs the tests run (tools/install_test_tools.sh): dicom3tools' dciodvfy validates every DICOM
# object written; Orthanc with its DICOMweb plugin is the PACS and DCMTK the scanner of the network tests
ORTHANC_DICOMWEB ?= /usr/share/orthanc/plugins/libOrthancDicomWeb.so
test-tools:
	@command -v dciodvfy >/dev/null && test -x /usr/sbin/Orthanc && command -v storescu >/dev/null \
	    && test -f $(ORTHANC_DICOMWEB) || sh tools/install_test_tools.sh

test: lint test-tools
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# One-folder PyInstaller bundles in $(BUNDLE_DIST): full (torch, training) and viewer-only (ONNX Runtime).
# Artefacts the bundles need that are not in git are made first under $(BUNDLE_BUILT) (mirroring
# resources/): the ONNX export of every model in resources/models, which the viewer runs.
BUNDLE_DIST ?= build/dist
BUNDLE_BUILT := build/bundle-resources
BUNDLE_ONNX := $(patsubst resources/%/card.json,$(BUNDLE_BUILT)/%/onnx/encoder.onnx,$(wildcard resources/models/*/card.json))
PYINSTALLER := nice $(BIN)/pyinstaller --noconfirm --distpath $(BUNDLE_DIST)

# exported into a scratch folder and moved into place, so an interrupted export is redone
$(BUNDLE_BUILT)/models/%/onnx/encoder.onnx: resources/models/%/card.json resources/models/%/model.safetensors \
		$(wildcard engine/export/*.py) $(STAMP)
	rm -rf $(@D).tmp
	$(BIN)/python -m app.cli.main models export-onnx resources/models/$* --out $(@D).tmp
	rm -rf $(@D)
	mv $(@D).tmp $(@D)

bundle: $(STAMP) $(BUNDLE_ONNX)
	$(PYINSTALLER) --workpath build/pyinstaller/full build.spec
	ECHOCARE_FLAVOUR=viewer $(PYINSTALLER) --workpath build/pyinstaller/viewer build.spec
	$(BIN)/python tools/bundle_smoke.py --dist $(BUNDLE_DIST) --sizes-only

bundle-smoke: $(STAMP)
	$(BIN)/python tools/bundle_smoke.py --dist $(BUNDLE_DIST)

# Refresh the lock from pyproject.toml and requirements/torch.in: newest versions within their ranges.
# Run it when a dependency changes, then `.ci/run` from a clean clone with a new venv.
LOCK_ENV := build/lock-env
lock:
	$(PYTHON) -m venv $(LOCK_ENV)
	$(LOCK_ENV)/bin/pip install --quiet $(PIP_SPEC) 'pip-tools>=7.4,<8'
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_ENV)/bin/pip-compile --quiet --upgrade --generate-hashes \
	    --no-emit-index-url --no-emit-find-links --strip-extras --extra dev --extra bundle \
	    --unsafe-package torch --output-file $(LOCK) pyproject.toml requirements/torch.in
	rm -rf build/lock-torch
	$(LOCK_ENV)/bin/pip download --quiet --no-deps -r requirements/torch.in $(TORCH_INDEX) -d build/lock-torch
	$(LOCK_ENV)/bin/python tools/lock_torch.py build/lock-torch --out requirements/torch-cpu.txt

clean-venv:
	rm -rf $(VENV)
