# helio: two commands do everything on a fresh Debian 12 machine.
#   make demo   installs what is missing, builds, codes the bundled real AIA frames
#   make test   installs what is missing, builds, runs every test
.PHONY: all setup build demo test fuzz-check train-deps pack train export synth-clips train-ssf export-ssf \
	train-checkerboard export-checkerboard train-checkerboard-ssf export-checkerboard-ssf clean

CARGO ?= cargo
PY := .venv/bin/python
export GST_PLUGIN_PATH := $(CURDIR)/target/release:$(GST_PLUGIN_PATH)

all: build

setup:
	bash scripts/setup.sh

build: setup
	$(CARGO) build --release --workspace --locked

demo: build
	bash pipelines/demo.sh

# Every test, in release mode (the networks dominate; debug Rust would only slow the entropy coder).
# HELIO_NO_SKIP: a test that would skip for lack of the model or ONNX Runtime fails instead.
test: export HELIO_NO_SKIP = 1
test: build
	$(CARGO) test --release --workspace --locked

# The fuzz targets compile on stable (running them needs nightly: fuzz/README.md).
fuzz-check:
	cd fuzz && $(CARGO) check --locked

# Training (never run by CI): torch + CompressAI into .venv, then resumable training.
train-deps: setup
	.venv/bin/pip install -q -r models/requirements-train.txt

pack: train-deps
	$(PY) -m models.data pack

train: train-deps
	$(PY) -m models.train --config models/configs/hyperprior.json

export:
	$(PY) -m models.export --ckpt models/checkpoints/hyperprior/last.pt --out models/hyperprior

# P-frame (scale-space flow) model: synthetic clips from helio-synth, then resumable training.
synth-clips: build
	target/release/helio-synth dataset --out models/pack/synth-clips --crops 0 \
		--clips 600 --clip-len 3 --crop 128 --wavelengths all --seed 7

train-ssf: train-deps
	test -f models/pack/synth-clips/clips.npy || $(MAKE) synth-clips
	$(PY) -m models.train_ssf --config models/configs/ssf.json

export-ssf:
	$(PY) -m models.export_ssf --ckpt models/checkpoints/ssf/last.pt --out models/ssf

# The channel-group / checkerboard entropy model on the frozen models/hyperprior transforms.
train-checkerboard: train-deps
	$(PY) -m models.train_checkerboard --config models/configs/checkerboard.json

export-checkerboard:
	$(PY) -m models.export_checkerboard --ckpt models/checkpoints/checkerboard/last.pt --out models/checkerboard

# The same for the P-frame latents, on the frozen models/ssf networks.
train-checkerboard-ssf: train-deps
	test -f models/pack/synth-clips/clips.npy || $(MAKE) synth-clips
	$(PY) -m models.train_checkerboard_ssf --config models/configs/ssf-checkerboard.json

export-checkerboard-ssf:
	$(PY) -m models.export_checkerboard_ssf --ckpt models/checkpoints/ssf-checkerboard/last.pt \
		--out models/ssf-checkerboard

clean:
	$(CARGO) clean
	rm -rf out
