"""Export the SSF P-frame checkpoint as an inter package (models/PACKAGE.md) and verify it.

    python -m models.export_ssf --ckpt models/checkpoints/ssf/last.pt --out models/ssf \
        [--intra models/hyperprior] [--interim]

Writes m_g_a, m_h_a, m_h_s, predict, r_g_a, r_h_a, r_h_s, r_g_s (.onnx),
model.json and MODEL_CARD.md, then checks:
  1. every graph in onnxruntime (CPU, ORT_ENABLE_BASIC) against PyTorch;
  2. GoP coding of the held-out AIA 171 sequence with the PACKAGE.md procedure
     in numpy, on the ONNX graphs and model.json alone: frame 0 an I-frame with
     the shipped intra package (`--intra`), frames 1.. P-frames, each predicted
     from the previous *decoded output* (inverse transform, rounded to DN, forward
     again, as codec-core does). bpp from the quantized CDFs, PSNR in the 8-bit
     sqrt display domain; beside it the same frames all intra.
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn

from models.clips import load_val_clip
from models.export import (HS, PAD, build_indexes, code_bits, code_frame, count_macs, model_json,
                           n_params, plain, psnr8, round_half_away, session)
from models.ssf import ScaleSpaceFlow
from models.train import config_path, pad_to

OPSET = 20  # 5-D GridSample (the scale-space lookup) needs opset 20
GRAPHS = ["m_g_a", "m_h_a", "m_h_s", "predict", "r_g_a", "r_h_a", "r_h_s", "r_g_s"]
DN_MAX, A = 16383.0, 0.375


class MotionAnalysis(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.g_a = plain(model.motion.g_a)

    def forward(self, x, ref):
        return self.g_a(torch.cat([x, ref], 1))


class Predict(nn.Module):
    """Motion synthesis + scale-space warp: (ref, motion y_hat) -> pred."""

    def __init__(self, model):
        super().__init__()
        self.g_s = plain(model.motion.g_s)
        self.warp = model.warp  # only what predict() uses, so params/MACs count just these
        self.flow_stride = model.flow_stride

    def forward(self, ref, y_hat):
        flow = ScaleSpaceFlow.upsample_flow(self, self.g_s(y_hat))
        return ScaleSpaceFlow.predict(self, ref, flow)


class ResidualAnalysis(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.g_a = plain(model.residual.g_a)

    def forward(self, x, pred):
        return self.g_a(x - pred)


class ResidualSynthesis(nn.Module):
    """r_g_s's graph: the prediction plus the decoded residual (also models/export_synthesis.py)."""

    def __init__(self, g_s):
        super().__init__()
        self.g_s = plain(g_s)

    def forward(self, pred, y_hat):
        return pred + self.g_s(y_hat)


def graphs(model):
    m, r = model.motion, model.residual
    return {
        "m_g_a": (MotionAnalysis(model).eval(), ["x", "ref"], ["y"]),
        "m_h_a": (plain(m.h_a), ["y"], ["z"]),
        "m_h_s": (HS(m.h_s).eval(), ["z_hat"], ["scales", "means"]),
        "predict": (Predict(model).eval(), ["ref", "y_hat"], ["pred"]),
        "r_g_a": (ResidualAnalysis(model).eval(), ["x", "pred"], ["y"]),
        "r_h_a": (plain(r.h_a), ["y"], ["z"]),
        "r_h_s": (HS(r.h_s).eval(), ["z_hat"], ["scales", "means"]),
        "r_g_s": (ResidualSynthesis(model.residual.g_s).eval(), ["pred", "y_hat"], ["x_hat"]),
    }


def dummies(model, H=128, W=192):
    Mm, Mr, N = model.motion.M, model.residual.M, model.motion.N
    img = lambda: torch.rand(1, 1, H, W)
    return {
        "m_g_a": (img(), img()), "m_h_a": (torch.randn(1, Mm, H // 16, W // 16),),
        "m_h_s": (torch.randn(1, N, H // 64, W // 64),),
        "predict": (img(), 0.1 * torch.randn(1, Mm, H // 16, W // 16)),
        "r_g_a": (img(), img()), "r_h_a": (torch.randn(1, Mr, H // 16, W // 16),),
        "r_h_s": (torch.randn(1, N, H // 64, W // 64),),
        "r_g_s": (img(), torch.randn(1, Mr, H // 16, W // 16)),
    }


def export_onnx(model, out):
    dm = dummies(model)
    for name, (mod, ins, outs) in graphs(model).items():
        path = os.path.join(out, f"{name}.onnx")
        dyn = {n: {2: f"{n}_h", 3: f"{n}_w"} for n in ins + outs}
        torch.onnx.export(mod, dm[name], path, input_names=ins, output_names=outs,
                          dynamic_axes=dyn, opset_version=OPSET, dynamo=False,
                          do_constant_folding=True)
        assert os.path.getsize(path) < 16 * 2**20, path


def latent_json(latent):
    """The per-latent fields of an intra model.json (PACKAGE.md)."""
    full = model_json(latent, "")
    return {k: full[k] for k in ("M", "N", "qualities", "z", "y")}


def package_id(folder, names):
    h = hashlib.sha256(open(os.path.join(folder, "model.json"), "rb").read())
    for n in names:
        h.update(open(os.path.join(folder, f"{n}.onnx"), "rb").read())
    return h.hexdigest()[:16]


# ------------------------------------------------------ numpy procedure --

def code_latent(sess, prefix, spec, y, q, side_img=None):
    """Steps 1-6 of the intra procedure for one latent; returns (bits, y_hat)."""
    g = np.asarray(spec["qualities"][q]["gain"], np.float32)[None, :, None, None]
    ig = np.asarray(spec["qualities"][q]["inv_gain"], np.float32)[None, :, None, None]
    yg = (y * g).astype(np.float32)
    z = sess[prefix + "h_a"].run(None, {"y": yg})[0]
    med = np.asarray(spec["z"]["medians"], np.float32)[None, :, None, None]
    sz = round_half_away(z - med)
    zc = np.broadcast_to(np.arange(z.shape[1])[None, :, None, None], z.shape)
    bits = code_bits(sz, zc, spec["z"]["offsets"], spec["z"]["cdfs"])
    scales, means = sess[prefix + "h_s"].run(None, {"z_hat": (sz + med).astype(np.float32)})
    if spec.get("context"):
        # Channel groups + checkerboard (models/export_checkerboard_ssf.py).
        from models.export_checkerboard import code_groups
        by, y_hat = code_groups(sess, spec, yg, scales, means, prefix, side_img)
        return bits + by, (y_hat * ig).astype(np.float32)
    idx = build_indexes(scales, spec["y"]["scale_table"], spec["y"]["scale_bound"])
    sy = round_half_away(yg - means)
    bits += code_bits(sy, idx, spec["y"]["offsets"], spec["y"]["cdfs"])
    return bits, ((sy + means) * ig).astype(np.float32)


def decoded_t(x_hat):
    """What the decoder outputs (14-bit DN), back in the network domain."""
    s = np.clip(x_hat.astype(np.float64), 0, 1) * (math.sqrt(DN_MAX + A) - math.sqrt(A)) + math.sqrt(A)
    dn = np.clip(np.round(s * s - A), 0, DN_MAX)
    return ((np.sqrt(dn + A) - math.sqrt(A)) / (math.sqrt(DN_MAX + A) - math.sqrt(A))).astype(np.float32)


def gain_of(t, ref_t):
    """codec-core's fit_gain: least squares over the unpadded frame, f64 sums, u16 units of 1/4096."""
    den = float((ref_t.astype(np.float64) ** 2).sum())
    if den <= 0:
        return 4096
    return int(np.clip(np.round((t.astype(np.float64) * ref_t).sum() / den * 4096), 1, 65535))


def code_p(sess, mj, t, ref_t, q):
    H, W = t.shape
    x = pad_to(torch.from_numpy(t)[None, None], PAD).numpy()
    g = np.float32(gain_of(t, ref_t) / 4096)
    ref_t = np.clip(ref_t * g, 0, 1).astype(np.float32)
    ref = pad_to(torch.from_numpy(ref_t)[None, None], PAD).numpy()
    y = sess["m_g_a"].run(None, {"x": x, "ref": ref})[0]
    bm, ym = code_latent(sess, "m_", mj["motion"], y, q)
    pred = sess["predict"].run(None, {"ref": ref, "y_hat": ym})[0]
    y = sess["r_g_a"].run(None, {"x": x, "pred": pred})[0]
    br, yr = code_latent(sess, "r_", mj["residual"], y, q, side_img=pred)
    x_hat = sess["r_g_s"].run(None, {"pred": pred, "y_hat": yr})[0][0, 0, :H, :W]
    return bm + 16, br, x_hat, pred[0, 0, :H, :W]  # + the 2-byte gain


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="models/checkpoints/ssf/last.pt")
    ap.add_argument("--out", default="models/ssf")
    ap.add_argument("--intra", default="models/hyperprior", help="intra package for the I-frames")
    ap.add_argument("--frames", type=int, default=13, help="AIA 171 frames in the GoP (from frame 0)")
    ap.add_argument("--interim", action="store_true")
    ap.add_argument("--z-latents", nargs="+", default=["motion", "residual"], choices=["motion", "residual"],
                    help="the latents whose z tables --z-from gives (a joint residual run of "
                    "train_checkerboard_ssf trained only the residual's)")
    ap.add_argument("--z-from", help="package whose z tables the --z-latents keep (when training froze "
                    "h_a and m_g_a but re-learned the bottlenecks' densities from scratch)")
    ap.add_argument("--subpixel", nargs="*", default=[],
                    help="graphs to rewrite as Conv + DepthToSpace, run at level All (models/subpixel.py)")
    ap.add_argument("--all", nargs="*", default=[], help="graphs to run at level All as they are")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cmd = "python -m models.export_ssf " + " ".join(sys.argv[1:])

    ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    lambdas = ck["intra_config"]["lambdas"]
    model = ScaleSpaceFlow(lambdas, cfg["N"], cfg["M_motion"], cfg["M_residual"], cfg["levels"], cfg["sigma0"],
                           cfg.get("flow_stride", 1))
    model.load_state_dict(ck["model"])
    model.eval()
    # Fit the z quantiles to the learned densities by bisection instead of
    # trusting the aux optimiser: the motion bottleneck starts from scratch
    # and its aux loss lags far behind the main loss.
    model.update(force=True, update_quantiles=True)

    os.makedirs(a.out, exist_ok=True)
    export_onnx(model, a.out)
    intra_mj = json.load(open(os.path.join(a.intra, "model.json")))
    mj = {
        "format": 1, "kind": "ssf",
        "name": f"ssf-n{cfg['N']}-mm{cfg['M_motion']}-mr{cfg['M_residual']}",
        "architecture": "scale-space flow (Agustsson 2020) + global reference gain + intensity-gain "
                        "field; motion and residual latents each a gained mean-scale hyperprior",
        "pad_multiple": PAD, "precision": 16,
        "intra_model": package_id(a.intra, ["g_a", "h_a", "h_s", "g_s"]),
        "scale_space": {"levels": cfg["levels"], "sigma0": cfg["sigma0"]},
        "motion": latent_json(model.motion), "residual": latent_json(model.residual),
    }
    if model.flow_stride != 1:
        mj["name"] += f"-f{model.flow_stride}"
        mj["architecture"] += f"; motion decoded at 1/{model.flow_stride} resolution, upsampled bilinearly"
        mj["motion"]["flow_stride"] = model.flow_stride
    if a.z_from:
        zmj = json.load(open(os.path.join(a.z_from, "model.json")))
        for latent in a.z_latents:
            mj[latent]["z"] = zmj[latent]["z"]
    assert len(mj["motion"]["qualities"]) == len(intra_mj["qualities"])
    with open(os.path.join(a.out, "model.json"), "w") as f:
        json.dump(mj, f, separators=(",", ":"))
    subpixel_card = ""
    if a.subpixel or a.all:
        from models.subpixel import apply
        subpixel_card = apply(a.out, a.subpixel, a.all, command=cmd + "  # its --subpixel and --all")
    mj = json.load(open(os.path.join(a.out, "model.json")))
    sess = {n: session(os.path.join(a.out, f"{n}.onnx")) for n in GRAPHS}
    isess = {n: session(os.path.join(a.intra, f"{n}.onnx")) for n in ["g_a", "h_a", "h_s", "g_s"]}

    # 1. ONNX vs PyTorch on real frames (AIA 171 frames 0 -> 1), middle quality.
    clip = load_val_clip(length=a.frames)
    x0 = pad_to(torch.from_numpy(clip[0])[None, None], PAD)
    x1 = pad_to(torch.from_numpy(clip[1])[None, None], PAD)
    diffs = {}
    dm = {"m_g_a": (x1, x0), "predict": (x0, None), "r_g_a": (x1, x0), "r_g_s": (x0, None)}
    with torch.no_grad():
        ym = graphs(model)["m_g_a"][0](x1, x0)
        dm["predict"] = (x0, 0.5 * ym)
        dm["r_g_s"] = (x0, torch.randn(1, model.residual.M, *ym.shape[-2:]))
        dm["m_h_a"] = (ym,)
        dm["m_h_s"] = (torch.round(graphs(model)["m_h_a"][0](ym)),)
        yr = graphs(model)["r_g_a"][0](x1, x0)
        dm["r_h_a"] = (yr,)
        dm["r_h_s"] = (torch.round(graphs(model)["r_h_a"][0](yr)),)
        for n, (mod, ins, _) in graphs(model).items():
            want = mod(*dm[n])
            want = want if isinstance(want, tuple) else (want,)
            got = sess[n].run(None, {k: v.numpy() for k, v in zip(ins, dm[n])})
            diffs[n] = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))
            print(f"onnx vs torch {n}: max abs diff {diffs[n]:.3g}", flush=True)

    # 2. GoP over the held-out sequence, per quality, vs all-intra.
    rows, per_frame = [], []
    t0 = time.time()
    for q in range(len(lambdas)):
        bits_i, _, lat = code_frame(isess, intra_mj, clip[0], q)
        xh0 = decoded_t(code_frame(isess, intra_mj, clip[0], q)[1])
        ref = xh0
        gop_bits, gop_psnr = [bits_i / clip[0].size], [psnr8(xh0, clip[0])]
        intra_bits, intra_psnr = [bits_i / clip[0].size], [gop_psnr[0]]
        mot = []
        for k in range(1, len(clip)):
            bm, br, xh, pred = code_p(sess, mj, clip[k], ref, q)
            ref = decoded_t(xh)
            gop_bits.append((bm + br) / clip[k].size)
            gop_psnr.append(psnr8(ref, clip[k]))
            mot.append(bm / (bm + br))
            bi, xi, _ = code_frame(isess, intra_mj, clip[k], q)
            intra_bits.append(bi / clip[k].size)
            intra_psnr.append(psnr8(xi, clip[k]))
            per_frame.append((q + 1, k, gop_bits[-1], gop_psnr[-1], psnr8(pred, clip[k]), intra_bits[-1], intra_psnr[-1]))
        rows.append((q + 1, float(np.mean(gop_bits)), float(np.mean(gop_psnr)), float(np.mean(gop_bits[1:])),
                     float(np.mean(gop_psnr[1:])), float(np.mean(mot)),
                     float(np.mean(intra_bits)), float(np.mean(intra_psnr))))
        print("q%d GoP %.4f bpp %.2f dB (P-frames %.4f bpp %.2f dB, motion share %.2f) | all-intra %.4f bpp %.2f dB"
              % rows[-1], flush=True)
    rd_s = time.time() - t0

    params = {n: n_params(g[0]) for n, g in graphs(model).items()}
    total = sum(p.numel() for p in model.parameters())
    macs = macs_per_pixel(model)
    write_card(a, cmd, ck, cfg, mj, diffs, rows, per_frame, params, total, macs, rd_s)
    if subpixel_card:
        with open(os.path.join(a.out, "MODEL_CARD.md"), "a") as f:
            f.write("\n" + subpixel_card)
    print(f"wrote {a.out}")


def macs_per_pixel(model, H=256, W=256):
    dm = dummies(model, H, W)
    out = {n: count_macs(mod, *dm[n]) / (H * W) for n, (mod, _, _) in graphs(model).items()}
    # The scale-space blurs are functional convs (no module): 2 passes per level.
    out["predict"] += sum(2 * getattr(model.warp, f"k{i}").numel() for i in range(model.warp.levels - 1))
    return out


def write_card(a, cmd, ck, cfg, mj, diffs, rows, per_frame, params, total, macs, rd_s):
    L = []
    w = L.append
    w(f"# {mj['name']}" + (" (INTERIM)" if a.interim else ""))
    w("")
    if a.interim:
        w("**Interim package**: exported from a running training so the codec can use P-frames; "
          "numbers improve with training, file names and the coding procedure do not change.")
        w("")
    w(f"Exported {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC from `{a.ckpt}` by:")
    w("")
    w(f"    {cmd}")
    w("")
    w("Every number below was printed or computed by that command (run from the repo root).")
    w("")
    w("## Architecture")
    w("")
    w("Scale-space flow (Agustsson et al. 2020, the source paper's section III.A), code "
      "`models/ssf.py`, plus two additions for AIA's automatic exposure control, which changes "
      "the exposure up to 10x between frames: a global reference gain fitted by the encoder and "
      "sent in 2 bytes (`reference_gain`; PACKAGE.md step 1), and a learned per-pixel gain field "
      "in the motion output for local corrections.")
    w("")
    w(f"- motion: g_a on [x, ref] (2 channels), 4 x (5x5 conv stride 2) with GDN, M={cfg['M_motion']}; "
      + (f"g_s mirrors it to 4 channels (fx, fy, scale index, log gain); hyperprior N={cfg['N']}"
         if cfg.get("flow_stride", 1) == 1 else
         f"g_s: two 5x5 deconvs stride 2 with inverse GDN to 1/4 resolution, a 3x3 conv to 4 channels "
         f"(fx, fy, scale index, log gain), upsampled bilinearly x4 (flow_stride 4); hyperprior N={cfg['N']}"))
    w(f"- warp: scale-space volume of ref, {cfg['levels']} levels (ref and Gaussian blurs with sigma "
      f"{cfg['sigma0']} x 2^k), trilinear lookup (`grid_sample` 5-D, border padding, align_corners), "
      "times exp(log gain) clamped to [-3, 3]")
    w(f"- residual: same transforms as the intra model (N={cfg['N']}, M={cfg['M_residual']}) on x - pred, "
      "initialised from the intra weights")
    w("- both latents: gained mean-scale hyperprior with the intra model's quality levels and lambdas")
    w("")
    w("| graph | params | MACs / pixel |")
    w("|---|---|---|")
    for n in GRAPHS:
        w(f"| {n} | {params[n]:,} | {macs[n]:,.0f} |")
    dec = macs["m_h_s"] + macs["predict"] + macs["r_h_s"] + macs["r_g_s"]
    enc = sum(macs.values())
    w(f"| total | {total:,} trainable | decoder {dec:,.0f}; encoder (all graphs) {enc:,.0f} |")
    w("")
    w("## Training")
    w("")
    w(f"- Command (resumes from `models/checkpoints/{cfg['name']}/last.pt`; needs `models/pack/synth-clips`, "
      "made by `target/release/helio-synth dataset --out models/pack/synth-clips --crops 0 "
      "--clips 600 --clip-len 3 --crop 128 --wavelengths all --seed 7`):")
    w("")
    w(f"      nohup nice -n 5 .venv/bin/python -m {cfg.get('trainer', 'models.train_ssf')} --config {config_path(cfg)} \\")
    w(f"          >> models/runs/{cfg['name']}/stdout.log 2>&1 &")
    w("")
    w(f"- Data (`models/clips.py`): {cfg['T']}-frame clips, {cfg['crop']}x{cfg['crop']}, batch {cfg['batch']}; "
      f"{int(100 * cfg['p_synth'])}% helio-synth clips (9 wavelengths, cadence 12 s to 6 min, a quarter "
      "with exposure changes), the rest real sequences (AIA 193 and 304 of the flare set with their "
      "alternating exposures, EIT 195 hourly, SWAP 174). AIA 171 is held out."
      + (f" Of all pairs, {int(100 * cfg['p_xwl'])}% are one instant in two wavelengths instead "
         "(synthetic, or real AIA 193/304), for X-frames." if cfg.get("p_xwl") else ""))
    w("- Frame 0 of each clip is coded by the frozen intra model (the checkpoint's copy), frames 1.. "
      "by the P model from the previous reconstruction (detached); loss per P-frame "
      "lambda*255^2*MSE + bpp(motion) + bpp(residual), the paper's eq. 10.")
    w(f"- Adam lr {cfg['lr']} (gains {cfg['gain_lr']}), aux {cfg['aux_lr']}; this checkpoint: iteration "
      f"{ck['iter']:,}, {ck['wall_s'] / 3600:.2f} h wall time on {ck['device']} "
      f"({platform.machine()}, 1-2 threads, nice 5, shared with builds).")
    for note in cfg.get("notes") or []:
        w(f"- Note: {note}")
    w("")
    w("## Verification (onnxruntime CPU, ORT_ENABLE_BASIC; ORT_ENABLE_ALL for the graphs in model.json "
      "full_optimization)")
    w("")
    w("| graph | max abs diff vs PyTorch |")
    w("|---|---|")
    for n, d in diffs.items():
        w(f"| {n} | {d:.2e} |")
    w("")
    w(f"## Rate-distortion on the held-out AIA 171 sequence ({len(per_frame) // len(rows) + 1} frames, "
      "raw DN with alternating exposures)")
    w("")
    w("Frame 0 coded as an I-frame with the intra package, the rest as P-frames, each from the "
      "previous decoded 14-bit output, with the PACKAGE.md procedure in numpy on the ONNX graphs "
      "(`models/export_ssf.py: code_p`). bpp from the quantized CDFs (ideal code length, no headers), "
      f"PSNR in the 8-bit sqrt display domain. Beside it: every frame intra. Took {rd_s:.0f} s.")
    w("")
    w("| quality | GoP bpp | GoP PSNR | P-frame bpp | P-frame PSNR | motion share of P bits | all-intra bpp | all-intra PSNR |")
    w("|---|---|---|---|---|---|---|---|")
    for r in rows:
        w("| %d | %.4f | %.2f | %.4f | %.2f | %.2f | %.4f | %.2f |" % r)
    w("")
    w("Per P-frame (quality, frame, bpp, PSNR, prediction PSNR, intra bpp, intra PSNR):")
    w("")
    w("| q | frame | P bpp | P PSNR | pred PSNR | intra bpp | intra PSNR |")
    w("|---|---|---|---|---|---|---|")
    for r in per_frame:
        w("| %d | %d | %.4f | %.2f | %.2f | %.4f | %.2f |" % r)
    w("")
    w("The comparison with x264/x265 at GoP 30 on the same frames comes from helio-eval "
      "(see the top-level README and BENCHMARKS.md).")
    open(os.path.join(a.out, "MODEL_CARD.md"), "w").write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
