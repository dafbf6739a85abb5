"""Leaves an inter package's scale-space warp to codec-core.

    python -m models.split_predict --from models/legacy/ssf-checkerboard-<id> --out models/ssf-checkerboard

`predict.onnx` is the motion synthesis followed by the upsampling of the flow,
the scale-space blurs, GridSample and the intensity gain; the last four were
60 % of its time in ONNX Runtime. This copies the package, cuts `predict.onnx`
at the motion synthesis's output into `m_g_s.onnx` (`y_hat` -> `flow`, same
weights, nothing re-exported) and sets model.json `"warp": "codec-core"`, so
codec-core runs `m_g_s` and warps in Rust (codec-core/src/warp.rs, the
arithmetic of models/ssf.py). The bits of every latent are unchanged; the
prediction moves in the last float bits, so the model id is new.

Checks, on real AIA 171 frames (data/aia171): `m_g_s` followed by the
training code's warp (models/ssf.py) against the old `predict.onnx`, on the
motion latents of real frame pairs at every quality and on latents scaled up
4x (larger flows and scales, reaching every blur level). codec-core's own warp
is checked against the old graph by codec-core/tests/inter.rs.
"""

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
import torch
from PIL import Image

from models.ssf import ScaleSpaceWarp, ScaleSpaceFlow


def extract(src, dst):
    """m_g_s.onnx: predict.onnx up to the flow (the input of its one Resize)."""
    model = onnx.load(src)
    resize = [n for n in model.graph.node if n.op_type == "Resize"]
    if len(resize) != 1:
        raise SystemExit(f"{src}: expected one Resize (flow_stride > 1), found {len(resize)}")
    flow = resize[0].input[0]
    onnx.utils.extract_model(src, dst, ["y_hat"], [flow])
    m = onnx.load(dst)
    for n in m.graph.node:
        n.output[:] = ["flow" if o == flow else o for o in n.output]
    m.graph.output[0].name = "flow"
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def session(path, threads=1):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def frame(i):
    """A real AIA 171 frame in [0, 1] (sqrt of DN over its maximum, like the codec's
    transform), edge-padded to multiples of 64 as the codec pads."""
    a = np.asarray(Image.open(f"data/aia171/frame_{i:02d}.png"), np.float32)
    a = np.pad(a, [(0, -n % 64) for n in a.shape], mode="edge")
    return np.sqrt(a / a.max())[None, None]


def median_ms(s, feeds, n=7):
    s.run(None, feeds)
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.run(None, feeds)
        t.append(time.perf_counter() - t0)
    return 1000 * sorted(t)[n // 2]


def write_fixture(path, w=64, h=48, stride=4, levels=5, sigma0=1.5):
    """codec-core/tests/data/warp.bin: a reference, a flow reaching every scale level
    and clamp, and the training code's prediction, for codec-core's warp test
    (the shipped models never blur: see the card). Little-endian: u32 w, h,
    stride, levels, f32 sigma0, then f32 ref [h*w], flow [4*(h/s)*(w/s)], pred [h*w]."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ref = (0.5 + 0.3 * torch.sin(xx * 0.4) * torch.cos(yy * 0.3) + 0.1 * torch.rand(h, w, generator=g))[None, None]
    fh, fw = h // stride, w // stride
    flow = torch.stack([
        6 * torch.rand(fh, fw, generator=g) - 3,          # fx, fy: a few pixels, past the border
        6 * torch.rand(fh, fw, generator=g) - 3,
        5.4 * torch.rand(fh, fw, generator=g) - 0.7,      # fs: below 0 .. above the top level
        8 * torch.rand(fh, fw, generator=g) - 4,          # lg: past the +-3 clamp
    ])[None]
    holder = type("P", (), {"flow_stride": stride, "warp": ScaleSpaceWarp(levels, sigma0)})()
    with torch.no_grad():
        pred = ScaleSpaceFlow.predict(holder, ref, ScaleSpaceFlow.upsample_flow(holder, flow))
    with open(path, "wb") as f:
        f.write(np.array([w, h, stride, levels], "<u4").tobytes() + np.array([sigma0], "<f4").tobytes())
        for t in (ref, flow, pred):
            f.write(t.numpy().astype("<f4").tobytes())
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="src")
    ap.add_argument("--out")
    ap.add_argument("--fixture", help="only write codec-core's warp test data to this path")
    a = ap.parse_args()
    if a.fixture:
        return write_fixture(a.fixture)
    if not (a.src and a.out):
        ap.error("--from and --out (or --fixture)")
    cmd = "python -m models.split_predict " + " ".join(sys.argv[1:])

    mj = json.load(open(os.path.join(a.src, "model.json")))
    if mj.get("warp"):
        raise SystemExit(f"{a.src}: model.json already has warp {mj['warp']!r}")
    stride = mj["motion"].get("flow_stride", 1)
    ss = mj["scale_space"]
    if os.path.abspath(a.src) != os.path.abspath(a.out):
        shutil.rmtree(a.out, ignore_errors=True)
        shutil.copytree(a.src, a.out)
    old_path = os.path.join(a.src, "predict.onnx")
    new_path = os.path.join(a.out, "m_g_s.onnx")
    extract(old_path, new_path)
    os.remove(os.path.join(a.out, "predict.onnx"))

    # The reference arithmetic: the training code's upsampling, warp and gain.
    warp = ScaleSpaceWarp(ss["levels"], ss["sigma0"])
    holder = type("P", (), {"flow_stride": stride, "warp": warp})()

    def reference_predict(ref, flow):
        with torch.no_grad():
            f = ScaleSpaceFlow.upsample_flow(holder, torch.from_numpy(flow))
            return ScaleSpaceFlow.predict(holder, torch.from_numpy(ref), f).numpy()

    old, new = session(old_path), session(new_path)
    m_g_a = session(os.path.join(a.src, "m_g_a.onnx"))
    rows, reach = [], 0.0
    for k in (0, 1):
        ref, x = frame(k), frame(k + 1)
        y = m_g_a.run(None, {"x": x, "ref": ref})[0]
        for q, spec in enumerate(mj["motion"]["qualities"]):
            g = np.asarray(spec["gain"], np.float32)[None, :, None, None]
            ig = np.asarray(spec["inv_gain"], np.float32)[None, :, None, None]
            for scale in (1.0, 4.0):
                y_hat = (np.round(y * g) * ig * scale).astype(np.float32)
                flow = new.run(None, {"y_hat": y_hat})[0]
                want = old.run(None, {"ref": ref, "y_hat": y_hat})[0]
                got = reference_predict(ref, flow)
                reach = max(reach, float(np.clip(flow[:, 2], 0, ss["levels"] - 1).max()))
                rows.append(float(np.abs(got - want).max()))
    diff = max(rows)
    print(f"m_g_s + models/ssf.py warp vs predict.onnx: max |diff| {diff:.2e} over {len(rows)} cases "
          f"(largest scale reached {reach:.2f} of {ss['levels'] - 1})")
    assert diff < 1e-4, diff

    ref = frame(0)
    y_hat = np.zeros_like(y)
    t_old = median_ms(old, {"ref": ref, "y_hat": y_hat})
    t_new = median_ms(new, {"y_hat": y_hat})
    # Whether the scale channel can be anything but 0: the last layer's weights and bias for it.
    last = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(new_path).graph.initializer}
    dead = reach == 0.0 and all(not np.any(v[2]) for k, v in last.items()
                                if k.startswith("g_s.4.") and v.shape[0] == 4)
    blur_note = ("This model's scale channel is 0 for any latent: the last motion-synthesis layer's "
                 "weights and bias for it are exactly 0. They were initialized so (start from \"copy the "
                 "reference\"), and grid_sample's border clamp passes no gradient at scale 0, so training "
                 "never moved them: its predictions never blur. codec-core only blurs the levels a "
                 "frame's flow reaches, here none." if dead else
                 f"The flows checked reach scale {reach:.2f}; codec-core only blurs the levels a frame's flow reaches.")
    print(f"1 thread, {ref.shape[3]}x{ref.shape[2]}: predict.onnx {t_old:.1f} ms, m_g_s.onnx {t_new:.1f} ms")

    mj["warp"] = "codec-core"
    mj["architecture"] += "; the scale-space warp runs in codec-core (m_g_s.onnx gives the flow)"
    with open(os.path.join(a.out, "model.json"), "w") as fh:
        json.dump(mj, fh, separators=(",", ":"))

    section = f"""
## Warp in codec-core (`models/split_predict.py`)

Made by:

    {cmd}

`predict.onnx` was cut at the motion synthesis's output into `m_g_s.onnx`
(`y_hat` -> `flow` `[1,4,H/{stride},W/{stride}]`, the same weights) and model.json
says `"warp": "codec-core"`: codec-core upsamples the flow, blurs the reference
into the scale-space volume, samples it and applies the intensity gain itself
(codec-core/src/warp.rs, the arithmetic of models/ssf.py), in plain f32 with
the same result on any thread count and CPU. Every latent's bits are those of
the package above; the prediction moves in the last float bits, so the figures
above stand and the model id is new.

- m_g_s followed by the training code's warp against the old predict.onnx, on
  the motion latents of AIA 171 frame pairs 0-1 and 1-2 at every quality, as
  coded and scaled up 4x: max abs difference {diff:.1e}.
- codec-core's warp against the training code's on a flow that reaches
  every level and clamp: codec-core/src/warp.rs's tests (fixture written by
  `python -m models.split_predict --fixture codec-core/tests/data/warp.bin`).
  Through the codec, on the bundled AIA 171 frames, this package and the one
  it was cut from code the same P-frame bytes and PSNR
  (codec-core/tests/inter_checkerboard.rs).
- {blur_note}
- ONNX Runtime, 1 thread, {ref.shape[3]}x{ref.shape[2]} (this machine, median of 7): predict.onnx
  {t_old:.1f} ms, m_g_s.onnx {t_new:.1f} ms. codec-core's warp alone:
  `cargo bench -p helio-codec-core --bench warp`; whole P-frames:
  `bash pipelines/bench-speed.sh` (README.md).
"""
    with open(os.path.join(a.out, "MODEL_CARD.md"), "a") as f:
        f.write(section)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
