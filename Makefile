# helio: two commands do everything on a fresh Debian 12 machine.
#   make demo   installs what is missing, builds, codes the bundled real AIA frames
#   make test   installs what is missing, builds, runs every test
.PHONY: all setup build demo test fuzz-check train-deps pack train export synth-clips train-ssf export-ssf \
	train-checkerboard export-checkerboard train-ssf-lowres export-ssf-lowres train-checkerboard-ssf \
	export-checkerboard-ssf train-ssf-scale export-ssf-scale train-synthesis export-synthesis train-ssf-residual export-ssf-residual \
	train-checkerboard-global train-checkerboard-ssf-global export-checkerboard-global train-more train-ssf-whole gpu-wheels export-intra-gpu train-intra-joint export-intra-joint train-ssf-joint export-ssf-joint clean

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

# The shipped intra transforms trained further (issue 4), z from models/checkpoints/checkerboard if there.
train-more: train-deps
	$(PY) -m models.train --config models/configs/hyperprior-more.json

# Training on a lent GPU (models/README.md, "Training on a GPU"): CompressAI and pytorch-msssim
# as wheels for the device's Python 3.12 (it has CompressAI's other needs), carried as .whl.
gpu-wheels: setup
	mkdir -p .whl
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_34_x86_64 -d .whl compressai==1.2.8 pytorch-msssim==1.0.0

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

# Then g_s in phase-split form and the decoder-side graphs at full optimization (models/subpixel.py).
# The default until 2026-12-02 (models/legacy/checkerboard-ce9cb739288ca450); the default is now
# export-checkerboard-global's.
export-checkerboard:
	$(PY) -m models.export_checkerboard --ckpt models/checkpoints/checkerboard/last.pt --out out/checkerboard
	$(PY) -m models.subpixel --package out/checkerboard --rewrite g_s \
		--all h_s cg0_a cg0_n cg1_a cg1_n cg2_a cg2_n cg3_a cg3_n

# models/ssf with its motion decoder cut to 1/4 resolution (distilled, then fine-tuned).
train-ssf-lowres: train-deps
	test -f models/pack/synth-clips/clips.npy || $(MAKE) synth-clips
	$(PY) -m models.train_ssf --config models/configs/ssf-lowres.json

export-ssf-lowres:
	$(PY) -m models.export_ssf --ckpt models/checkpoints/ssf-lowres/last.pt --out models/ssf-lowres \
		--z-from models/ssf --subpixel r_g_s --all m_h_s r_h_s

# The same for the P-frame latents, on the frozen models/ssf networks; shipped on models/ssf-lowres as it
# was before its residual decoder was narrowed (now in models/legacy/).
train-checkerboard-ssf: train-deps
	test -f models/pack/synth-clips/clips.npy || $(MAKE) synth-clips
	$(PY) -m models.train_checkerboard_ssf --config models/configs/ssf-checkerboard.json

# Then its predict.onnx is cut at the flow and codec-core warps (models/split_predict.py): that
# was models/legacy/ssf-checkerboard-2ac60fc0e76e2ad9 (with predict.onnx: ...-bce820e20404fb70),
# the base of export-ssf-scale below, which makes the default models/ssf-checkerboard.
export-checkerboard-ssf:
	$(PY) -m models.export_checkerboard_ssf --ckpt models/checkpoints/ssf-checkerboard-pinned/last.pt \
		--package models/legacy/ssf-lowres-7da1b6efc2d1853f --out out/ssf-checkerboard-predict --residual checkerboard+side \
		--all r_side r_cg0_a r_cg0_n r_cg1_a r_cg1_n r_cg2_a r_cg2_n r_cg3_a r_cg3_n
	$(PY) -m models.split_predict --from out/ssf-checkerboard-predict --out out/ssf-checkerboard

# The motion decoder with a live scale field (models/README.md), swapped into the P package that was
# the default until 2026-12-02 (models/legacy/ssf-checkerboard-7879c5e0b3b086aa, before its r_g_s and
# m_g_s went phase-split); export-checkerboard-global's residual heads are exported on it.
train-ssf-scale: train-deps
	$(PY) -m models.train_ssf --config models/configs/ssf-scale-live.json

export-ssf-scale:
	$(PY) -m models.export_ssf --ckpt models/checkpoints/ssf-scale-live/last.pt --out out/ssf-scale-live \
		--z-from models/legacy/ssf-lowres-7da1b6efc2d1853f --subpixel r_g_s --all m_h_s r_h_s
	$(PY) -m models.split_predict --from out/ssf-scale-live --out out/ssf-scale-live-warp
	$(PY) -m models.swap_graph --base models/legacy/ssf-checkerboard-2ac60fc0e76e2ad9 --graph m_g_s \
		--from out/ssf-scale-live-warp --out out/ssf-checkerboard-scale-live \
		--why "motion decoder with a live scale field: models/legacy/ssf-lowres-7da1b6efc2d1853f's, fine-tuned alone with its scale-channel bias started at 0.25 (models/configs/ssf-scale-live.json)"

# The whole P model on the rate-distortion loss with the live scale field (issue 5): the
# ssf-lowres run's checkpoint with the ssf-scale-live run's motion decoder (needs both checkpoints).
train-ssf-whole: train-deps
	test -f models/pack/synth-clips/clips.npy || $(MAKE) synth-clips
	$(PY) -m models.train_ssf --config models/configs/ssf-whole-live.json

# The global context (models/checkerboard.py: GlobalContext) against a control that continues
# without it, side by side from the shipped heads: intra, then the P residual on the default
# package's predictions. Measured in models/README.md ("Global context").
train-checkerboard-global: train-deps
	$(PY) -m models.train_checkerboard --config models/configs/checkerboard-global.json

train-checkerboard-ssf-global: train-deps
	test -f models/pack/synth-clips/clips.npy || $(MAKE) synth-clips
	$(PY) -m models.train_checkerboard_ssf --config models/configs/ssf-checkerboard-global.json

# The default packages models/checkerboard and models/ssf-checkerboard (since 2026-12-02; a new
# model id: move the previous ones to models/legacy/ first). The residual heads are exported on the
# live-scale motion decoder in predict.onnx form (out/ssf-scale-live from export-ssf-scale), so the
# numpy GoP check runs on the predictions they were trained on; the synthesis graphs then go
# phase-split (models/subpixel.py).
export-checkerboard-global:
	$(PY) -m models.export_checkerboard --ckpt models/checkpoints/checkerboard-global/last.pt \
		--variant checkerboard+global --out models/checkerboard
	$(PY) -m models.subpixel --package models/checkerboard --rewrite g_s \
		--all h_s cg0_a cg0_n cg1_a cg1_n cg2_a cg2_n cg3_a cg3_n
	$(PY) -m models.swap_graph --base models/legacy/ssf-lowres-7da1b6efc2d1853f --graph predict \
		--from out/ssf-scale-live --out out/ssf-lowres-live-predict \
		--why "motion decoder with a live scale field (models/configs/ssf-scale-live.json), in predict.onnx form"
	$(PY) -m models.export_checkerboard_ssf --ckpt models/checkpoints/ssf-checkerboard-global/last.pt \
		--package out/ssf-lowres-live-predict --out out/ssf-cg-global-predict \
		--residual checkerboard+global+side \
		--all r_side r_cg0_a r_cg0_n r_cg1_a r_cg1_n r_cg2_a r_cg2_n r_cg3_a r_cg3_n
	$(PY) -m models.split_predict --from out/ssf-cg-global-predict --out models/ssf-checkerboard
	$(PY) -m models.subpixel --package models/ssf-checkerboard --rewrite r_g_s m_g_s

# New intra defaults from configs/gpu-intra.json and configs/gpu-checkerboard.json (a GPU lease or
# the CPU): models/hyperprior from the continued transforms, models/checkerboard from the default
# heads continued on them, g_s phase-split. Only once pipelines/gpu-import.sh (the same into out/)
# shows them ahead of the defaults; both are new model ids: move the previous packages to
# models/legacy/ first (those of a release: a package that never landed can just go).
# I_OUT=out (or any folder) exports both there instead, to compare before shipping.
INTRA_CKPT ?= models/checkpoints/hyperprior-gpu/last.pt
HEADS_CKPT ?= models/checkpoints/checkerboard-gpu/last.pt
I_OUT ?= models
export-intra-gpu:
	$(PY) -m models.export --ckpt $(INTRA_CKPT) --out $(I_OUT)/hyperprior
	$(PY) -m models.export_checkerboard --ckpt $(HEADS_CKPT) \
		--package $(I_OUT)/hyperprior --variant checkerboard+global --out $(I_OUT)/checkerboard
	$(PY) -m models.subpixel --package $(I_OUT)/checkerboard --rewrite g_s \
		--all h_s cg0_a cg0_n cg1_a cg1_n cg2_a cg2_n cg3_a cg3_n

# The same from a joint run (transforms and heads trained together): its base.pt holds the
# transforms, last.pt the heads. configs/checkerboard-joint.json continues the run that made the
# defaults where its checkpoint is (the machine it ran on); anywhere else (a fresh clone, a GPU
# lease) configs/checkerboard-joint-package.json starts from the shipped packages, then resumes.
JOINT_RUN ?= $(if $(wildcard models/checkpoints/checkerboard-joint/last.pt),checkerboard-joint,checkerboard-joint-package)
train-intra-joint: train-deps
	$(PY) -m models.train_checkerboard --config models/configs/$(JOINT_RUN).json

export-intra-joint:
	$(MAKE) export-intra-gpu INTRA_CKPT=models/checkpoints/$(JOINT_RUN)/base.pt \
		HEADS_CKPT=models/checkpoints/$(JOINT_RUN)/last.pt

# The same for the P-frames (issue 5): the default P package's residual transforms, gains and z
# trained together with its residual heads (configs/ssf-checkerboard-joint.json), against the I-frames
# of the intra defaults; motion frozen. base.pt holds the whole P model: export_ssf makes the base
# package of it (the package's motion z tables), export_checkerboard_ssf adds the heads. Into out/
# to measure first (bash pipelines/compare-packages.sh both models/checkerboard:models/ssf-checkerboard
# models/checkerboard:out/ssf-checkerboard-joint); to ship, move the previous package to
# models/legacy/ and pass P_BASE=<its new path> P_OUT=models/ssf-checkerboard.
P_BASE ?= models/ssf-checkerboard
P_OUT ?= out/ssf-checkerboard-joint
train-ssf-joint: train-deps
	test -f models/pack/synth-clips/clips.npy || $(MAKE) synth-clips
	$(PY) -m models.train_checkerboard_ssf --config models/configs/ssf-checkerboard-joint.json

export-ssf-joint:
	$(PY) -m models.export_ssf --ckpt models/checkpoints/ssf-checkerboard-joint/base.pt --out out/ssf-joint \
		--intra models/hyperprior --z-from $(P_BASE) --z-latents motion
	$(PY) -m models.export_checkerboard_ssf --ckpt models/checkpoints/ssf-checkerboard-joint/last.pt \
		--package out/ssf-joint --out out/ssf-joint-predict --residual checkerboard+global+side \
		--all r_side r_cg0_a r_cg0_n r_cg1_a r_cg1_n r_cg2_a r_cg2_n r_cg3_a r_cg3_n
	$(PY) -m models.split_predict --from out/ssf-joint-predict --out $(P_OUT)
	$(PY) -m models.subpixel --package $(P_OUT) --rewrite r_g_s m_g_s

# Narrower synthesis transforms (models/synthesis.py), each trained on its package's frozen encoder
# and put into a copy of that package (a new model id: the previous package goes to models/legacy/
# first): the residual decoder r_g_s of models/ssf-lowres, the faster P package (shipped; the default
# models/ssf-checkerboard keeps its own: models/README.md), and the intra g_s (in training).
train-synthesis: train-deps
	$(PY) -m models.train_synthesis --config models/configs/synthesis-h48.json

# A candidate beside the default, to measure first:
#   bash pipelines/compare-packages.sh intra models/checkerboard out/checkerboard-narrow
export-synthesis:
	$(PY) -m models.export_synthesis --ckpt models/checkpoints/synthesis-h48/last.pt \
		--from models/checkerboard --out out/checkerboard-narrow

train-ssf-residual: train-deps
	test -f models/pack/synth-clips/clips.npy || $(MAKE) synth-clips
	$(PY) -m models.train_ssf --config models/configs/ssf-residual-h32.json

export-ssf-residual:
	$(PY) -m models.export_synthesis --graph r_g_s --ckpt models/checkpoints/ssf-residual-h32/last.pt \
		--from models/legacy/ssf-lowres-7da1b6efc2d1853f --out models/ssf-lowres

clean:
	$(CARGO) clean
	rm -rf out
