"""Export a trained checkpoint as a model package (models/PACKAGE.md) and verify it.

    python -m models.export --ckpt models/checkpoints/hyperprior/last.pt \
        --out models/hyperprior [--interim]

Writes g_a/h_a/h_s/g_s.onnx, model.json and MODEL_CARD.md, then checks:
  1. each ONNX graph in onnxruntime (CPU, ORT_ENABLE_BASIC) against PyTorch
     on a held-out AIA 171 frame (max abs diff per graph);
  2. the PACKAGE.md coding procedure re-implemented in numpy on top of the
     ONNX graphs and model.json alone (gains, rounding, index building,
     code length from the quantized CDFs incl. escapes) on the held-out
     AIA 171 frames: bpp and PSNR per quality, cross-checked against
     CompressAI's own rANS coder run on the same latents.
"""

import argparse
import copy
import datetime
import json
import math
import os
import platform
import sys
import time

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

from compressai.layers import GDN
from models.data import load_val_frames
from models.hyperprior import GainedMeanScaleHyperprior
from models.train import config_path, pad_to

PAD = 64
PRECISION = 16


# ---------------------------------------------------------------- export --

class PlainGDN(nn.Module):
    """GDN with its reparametrised beta/gamma baked in as constants.

    CompressAI's GDN goes through a custom autograd LowerBound op, which the
    ONNX exporter cannot see through; the forward maths are identical.
    """

    def __init__(self, gdn):
        super().__init__()
        C = gdn.beta.numel()
        self.inverse = gdn.inverse
        with torch.no_grad():
            self.register_buffer("beta", gdn.beta_reparam(gdn.beta).clone())
            self.register_buffer("gamma", gdn.gamma_reparam(gdn.gamma).reshape(C, C, 1, 1).clone())

    def forward(self, x):
        norm = F.conv2d(x * x, self.gamma, self.beta)
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))


def plain(seq):
    seq = copy.deepcopy(seq)
    for i, m in enumerate(seq):
        if isinstance(m, GDN):
            seq[i] = PlainGDN(m)
    return seq.eval()


class HS(nn.Module):
    """h_s with its last conv split into a scales conv and a means conv, so
    both outputs have a static channel count (chunk() exports as a Slice with
    a symbolic channel dim)."""

    def __init__(self, h_s):
        super().__init__()
        h_s = plain(h_s)
        last = h_s[-1]
        M = last.out_channels // 2
        self.body = h_s[:-1]
        self.scales, self.means = [nn.Conv2d(last.in_channels, M, last.kernel_size,
                                             padding=last.padding) for _ in range(2)]
        with torch.no_grad():
            for i, c in enumerate([self.scales, self.means]):
                c.weight.copy_(last.weight[i * M:(i + 1) * M])
                c.bias.copy_(last.bias[i * M:(i + 1) * M])

    def forward(self, z_hat):
        h = self.body(z_hat)
        return self.scales(h), self.means(h)


def graphs(model):
    """name -> (module, input names, output names)."""
    return {
        "g_a": (plain(model.g_a), ["x"], ["y"]),
        "h_a": (plain(model.h_a), ["y"], ["z"]),
        "h_s": (HS(model.h_s).eval(), ["z_hat"], ["scales", "means"]),
        "g_s": (plain(model.g_s), ["y_hat"], ["x_hat"]),
    }


def export_onnx(model, out):
    M, N = model.M, model.N
    dummy = {"g_a": torch.rand(1, 1, 128, 192), "h_a": torch.randn(1, M, 8, 12),
             "h_s": torch.randn(1, N, 2, 3), "g_s": torch.randn(1, M, 8, 12)}
    for name, (mod, ins, outs) in graphs(model).items():
        path = os.path.join(out, f"{name}.onnx")
        # Distinct symbols in and out: the spatial size changes across each graph.
        dyn = {n: {2: f"{n}_h", 3: f"{n}_w"} for n in ins + outs}
        torch.onnx.export(mod, (dummy[name],), path, input_names=ins, output_names=outs,
                          dynamic_axes=dyn, opset_version=17, dynamo=False,
                          do_constant_folding=True)
        size = os.path.getsize(path)
        assert size < 16 * 2**20, f"{path} is {size} bytes"


def model_json(model, name):
    eb, gc = model.entropy_bottleneck, model.gaussian_conditional

    def cdfs(m):
        return [m._quantized_cdf[i, : m._cdf_length[i]].tolist() for i in range(m._cdf_length.numel())]

    with torch.no_grad():
        quals = [{"lambda": lam, "gain": model.gain(q).tolist(), "inv_gain": model.inv_gain(q).tolist()}
                 for q, lam in enumerate(model.lambdas)]
    return {
        "format": 1,
        "name": name,
        "architecture": "mean-scale hyperprior (Minnen 2018) with per-quality gain vectors (Cui 2021)",
        "entropy_model": "hyperprior",
        "M": model.M,
        "N": model.N,
        "pad_multiple": PAD,
        "precision": PRECISION,
        "qualities": quals,
        "z": {"medians": eb._get_medians().detach().reshape(-1).tolist(),
              "offsets": eb._offset.tolist(), "cdfs": cdfs(eb)},
        "y": {"scale_table": gc.scale_table.tolist(), "scale_bound": float(gc.lower_bound_scale.bound),
              "offsets": gc._offset.tolist(), "cdfs": cdfs(gc)},
    }


# ------------------------------------------------------------ reference --

def session(path):
    so = ort.SessionOptions()
    # Pinned: higher levels may fuse/reorder float ops and change results
    # between ORT versions; encoder and decoder must agree bit for bit. The
    # exception is what the package's model.json lists in full_optimization
    # (models/subpixel.py), which codec-core runs at level All too.
    from models.subpixel import package_level
    so.graph_optimization_level = package_level(path)
    so.intra_op_num_threads = 2
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def round_half_away(v):
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


def build_indexes(scales, table, bound):
    """CompressAI's GaussianConditional.build_indexes: the smallest table
    entry >= max(scale, bound), capped at the last one; equivalently the
    number of entries among the first S-1 that are < max(scale, bound)."""
    s = np.maximum(scales, np.float32(bound))
    t = np.asarray(table, dtype=np.float32)[:-1]
    return np.searchsorted(t, s.reshape(-1), side="left").reshape(s.shape)


def code_bits(sym, idx, offsets, cdfs):
    """Code length in bits of integer symbols `sym` coded with table idx, as
    codec-core's range coder spends it (codec-core/src/entropy.rs): -log2 of
    the quantized pmf per symbol; out-of-table values cost the escape bin plus
    the bypass code, log2(33) for the bit length n of raw plus n raw bits."""
    sym, idx = sym.reshape(-1), idx.reshape(-1)
    bits = 0.0
    for k in np.unique(idx):
        cdf = np.asarray(cdfs[k], dtype=np.int64)
        escape = len(cdf) - 2          # bins 0..escape-1 regular, bin `escape` = escape
        v = sym[idx == k] - offsets[k]
        esc = (v < 0) | (v >= escape)
        vv = np.where(esc, escape, v)
        p = (cdf[vv + 1] - cdf[vv]) / float(1 << PRECISION)
        bits += -np.log2(p).sum()
        if esc.any():
            ve = v[esc]
            raw = np.where(ve < 0, -2 * ve - 1, 2 * (ve - escape))
            n = np.where(raw > 0, np.floor(np.log2(np.maximum(raw, 1))) + 1, 0)
            bits += (math.log2(33) + n).sum()
    return bits


def code_hyper(sess, mj, t, q):
    """Steps 1-4 of the PACKAGE.md procedure on frame t [H,W] at quality index
    q (0-based): (gained y, inv_gain, z, bits of z, scales, means)."""
    x = pad_to(torch.from_numpy(t)[None, None], PAD).numpy()
    g = np.asarray(mj["qualities"][q]["gain"], np.float32)[None, :, None, None]
    ig = np.asarray(mj["qualities"][q]["inv_gain"], np.float32)[None, :, None, None]
    yg = (sess["g_a"].run(None, {"x": x})[0] * g).astype(np.float32)
    z = sess["h_a"].run(None, {"y": yg})[0]
    med = np.asarray(mj["z"]["medians"], np.float32)[None, :, None, None]
    sz = round_half_away(z - med)
    z_hat = (sz + med).astype(np.float32)
    zc = np.broadcast_to(np.arange(z.shape[1])[None, :, None, None], z.shape)
    bits = code_bits(sz, zc, mj["z"]["offsets"], mj["z"]["cdfs"])
    scales, means = sess["h_s"].run(None, {"z_hat": z_hat})
    return yg, ig, z, bits, scales, means


def code_frame(sess, mj, t, q):
    """PACKAGE.md coding procedure on one frame t [H,W] at quality index q
    (0-based). Returns (bits, x_hat [H,W], latents for the rANS cross-check)."""
    H, W = t.shape
    yg, ig, z, bits, scales, means = code_hyper(sess, mj, t, q)
    idx = build_indexes(scales, mj["y"]["scale_table"], mj["y"]["scale_bound"])
    sy = round_half_away(yg - means)
    bits += code_bits(sy, idx, mj["y"]["offsets"], mj["y"]["cdfs"])
    y_hat = ((sy + means) * ig).astype(np.float32)
    x_hat = sess["g_s"].run(None, {"y_hat": y_hat})[0][0, 0, :H, :W]
    return bits, x_hat, (yg, z, scales, means)


def rans_bytes(model, yg, z, scales, means):
    """Real entropy coding with CompressAI's rANS on the same latents."""
    eb, gc = model.entropy_bottleneck, model.gaussian_conditional
    zs = eb.compress(torch.from_numpy(z))
    idx = gc.build_indexes(torch.from_numpy(scales))
    ys = gc.compress(torch.from_numpy(yg), idx, means=torch.from_numpy(means))
    return sum(len(s) for s in zs) + sum(len(s) for s in ys)


def psnr8(x_hat, t):
    """PSNR in the 8-bit sqrt display domain: round(255*t) against
    round(255*clip(x_hat)), as codec-core's helio-eval computes it."""
    ref = np.round(255 * np.asarray(t, np.float64))
    rec = np.round(255 * np.clip(np.asarray(x_hat, np.float64), 0, 1))
    return 10 * math.log10(255 ** 2 / max(np.mean((rec - ref) ** 2), 1e-10))


def baselines(frames, sel):
    """JPEG and JPEG 2000 (Pillow) on the same frames, as 8-bit images of
    round(255*t); PSNR as for the learned codec (psnr8)."""
    import io
    from PIL import Image
    out = []
    for codec, params in [("JPEG", [10, 30, 50, 70, 85, 95]),
                          ("JPEG 2000", [0.07, 0.1, 0.15, 0.25, 0.45, 0.8])]:
        for prm in params:
            bpps, psnrs = [], []
            for i in sel:
                t = frames[i][1]
                img = Image.fromarray(np.round(255 * t).astype(np.uint8))
                buf = io.BytesIO()
                if codec == "JPEG":
                    img.save(buf, "JPEG", quality=prm)
                else:  # rate given in bpp -> compression ratio vs 8 bpp
                    img.save(buf, "JPEG2000", quality_mode="rates", quality_layers=[8 / prm])
                rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())), np.float64) / 255
                bpps.append(8 * len(buf.getvalue()) / t.size)
                psnrs.append(psnr8(rec, t))
            out.append((codec, prm, float(np.mean(bpps)), float(np.mean(psnrs))))
    return out


# ------------------------------------------------------------ measuring --

def count_macs(mod, *inputs):
    """Multiply-accumulates of one forward pass: convs, transposed convs and
    GDN's CxC 1x1 conv, counted with forward hooks."""
    tot = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            tot[0] += out.numel() * m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        elif isinstance(m, nn.ConvTranspose2d):
            tot[0] += inp[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, PlainGDN):
            tot[0] += out.numel() * out.shape[1]  # the CxC 1x1 conv
    hooks = [m.register_forward_hook(hook) for m in mod.modules()]
    with torch.no_grad():
        mod(*inputs)
    for h in hooks:
        h.remove()
    return tot[0]


def macs_per_pixel(model):
    H = W = 256
    shapes = {"g_a": (1, 1, H, W), "h_a": (1, model.M, H // 16, W // 16),
              "h_s": (1, model.N, H // 64, W // 64), "g_s": (1, model.M, H // 16, W // 16)}
    return {name: count_macs(mod, torch.randn(*shapes[name])) / (H * W)
            for name, (mod, _, _) in graphs(model).items()}


def n_params(mod):
    return sum(p.numel() for p in mod.parameters()) + sum(b.numel() for b in mod.buffers())


# ------------------------------------------------------------------ main --

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="models/checkpoints/hyperprior/last.pt")
    ap.add_argument("--out", default="models/hyperprior")
    ap.add_argument("--frames", default="all", help="AIA 171 frame indices for the RD table, e.g. 0,4,12")
    ap.add_argument("--interim", action="store_true")
    ap.add_argument("--no-rans", action="store_true", help="skip the CompressAI rANS cross-check")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cmd = "python -m models.export " + " ".join(sys.argv[1:])

    ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    model = GainedMeanScaleHyperprior(cfg["N"], cfg["M"], cfg["lambdas"])
    model.load_state_dict(ck["model"])
    model.eval()
    model.update(force=True)
    name = f"hyperprior-n{cfg['N']}-m{cfg['M']}"

    os.makedirs(a.out, exist_ok=True)
    export_onnx(model, a.out)
    mj = model_json(model, name)
    with open(os.path.join(a.out, "model.json"), "w") as f:
        json.dump(mj, f, separators=(",", ":"))
    mj = json.load(open(os.path.join(a.out, "model.json")))  # verify what was written
    sess = {n: session(os.path.join(a.out, f"{n}.onnx")) for n in ["g_a", "h_a", "h_s", "g_s"]}

    # 1. ONNX vs PyTorch, one held-out frame, middle quality.
    frames = load_val_frames()
    t0 = frames[0][1]
    q = model.num_qualities // 2
    with torch.no_grad():
        x = pad_to(torch.from_numpy(t0)[None, None], PAD)
        y = model.g_a(x)
        yg = y * model.gain(q)[None, :, None, None]
        z = model.h_a(yg)
        z_hat = model.entropy_bottleneck.quantize(z, "dequantize", model.entropy_bottleneck._get_medians())
        sc, mu = model.h_s(z_hat).chunk(2, 1)
        y_hat = (torch.round(yg - mu) + mu) * model.inv_gain(q)[None, :, None, None]
        xh = model.g_s(y_hat)
    ref = {"g_a": ({"x": x}, [y]), "h_a": ({"y": yg}, [z]), "h_s": ({"z_hat": z_hat}, [sc, mu]),
           "g_s": ({"y_hat": y_hat}, [xh])}
    diffs = {}
    for n, (ins, outs) in ref.items():
        got = sess[n].run(None, {k: v.numpy() for k, v in ins.items()})
        diffs[n] = max(float(np.abs(g - o.numpy()).max()) for g, o in zip(got, outs))
        print(f"onnx vs torch {n}: max abs diff {diffs[n]:.3g}  (output range "
              f"{min(float(o.min()) for o in outs):.3g}..{max(float(o.max()) for o in outs):.3g})")

    idx_t = model.gaussian_conditional.build_indexes(sc).numpy()
    idx_n = build_indexes(sc.numpy(), mj["y"]["scale_table"], mj["y"]["scale_bound"])
    idx_mismatch = int((idx_t != idx_n).sum())
    print(f"build_indexes numpy vs CompressAI: {idx_mismatch} of {idx_t.size} differ")
    assert idx_mismatch == 0
    diffs["build_indexes (numpy vs CompressAI), mismatches"] = idx_mismatch

    # 2. Full coding procedure in numpy on the held-out AIA 171 frames.
    sel = range(len(frames)) if a.frames == "all" else [int(i) for i in a.frames.split(",")]
    rows = []
    t_start = time.time()
    for q in range(model.num_qualities):
        bpps, psnrs, rans = [], [], []
        for i in sel:
            nm, t = frames[i]
            bits, xh, lat = code_frame(sess, mj, t, q)
            bpps.append(bits / t.size)
            psnrs.append(psnr8(xh, t))
            if not a.no_rans:
                rans.append(8 * rans_bytes(model, *lat) / t.size)
        rows.append((q + 1, model.lambdas[q], float(np.mean(bpps)), float(np.mean(psnrs)),
                     float(np.mean(rans)) if rans else float("nan")))
        print(f"q{q + 1} lambda {model.lambdas[q]:<7g} bpp {rows[-1][2]:.4f}  PSNR {rows[-1][3]:.2f} dB"
              f"  (CompressAI rANS {rows[-1][4]:.4f} bpp)", flush=True)
    rd_s = time.time() - t_start
    base = baselines(frames, sel)
    for c, prm, b, p in base:
        print(f"{c} {prm}: bpp {b:.4f}  PSNR {p:.2f} dB")

    macs = macs_per_pixel(model)
    gs = graphs(model)
    params = {n: n_params(gs[n][0]) for n in gs}
    total_params = sum(p.numel() for p in model.parameters())
    sizes = {n: os.path.getsize(os.path.join(a.out, f"{n}.onnx")) for n in gs}
    write_card(a, cmd, ck, cfg, mj, diffs, rows, macs, params, total_params, sizes, list(sel), rd_s, base)
    print(f"wrote {a.out}")


def throughput(name):
    path = os.path.join("models/runs", name, "log.csv")
    if not os.path.exists(path):
        return []
    import csv
    return [float(r["it_per_s"]) for r in csv.DictReader(open(path))]


def training_history(name):
    path = os.path.join("models/runs", name, "stdout.log")
    if not os.path.exists(path):
        return []
    return [l.strip() for l in open(path) if l.startswith(("resumed", "lambdas"))]


def write_card(a, cmd, ck, cfg, mj, diffs, rows, macs, params, total_params, sizes, sel, rd_s, base):
    frames = "all 13" if len(sel) == 13 else ", ".join(f"frame_{i:02d}" for i in sel)
    L = []
    w = L.append
    w(f"# {mj['name']}" + (" (INTERIM)" if a.interim else ""))
    w("")
    if a.interim:
        w("**Interim package**: an early checkpoint exported so codec-core can integrate "
          "against a real package. Rate-distortion numbers will improve with training; "
          "the format, tensor names and coding procedure will not change.")
        w("")
    w(f"Exported {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC from `{a.ckpt}` by:")
    w("")
    w(f"    {cmd}")
    w("")
    w("Every number below was printed or computed by that command (run from the repo root).")
    w("")
    w("## Architecture")
    w("")
    w(f"Mean-scale hyperprior (Minnen et al. 2018, as CompressAI `MeanScaleHyperprior`), 1 input "
      f"channel, N={cfg['N']}, M={cfg['M']}, with per-quality gain vectors (Cui et al. 2021, "
      f"asymmetric gained VAE): {len(cfg['lambdas'])} quality levels share one set of transforms. "
      "Code: `models/hyperprior.py`.")
    w("")
    w("- g_a: 4 x (5x5 conv stride 2), GDN between: /16, M channels")
    w("- h_a: 3x3 conv, LeakyReLU, 2 x (5x5 conv stride 2): /4 more, N channels")
    w("- h_s: 2 x (5x5 transposed conv stride 2), 3x3 conv -> 2M channels = scales, means")
    w("- g_s: 4 x (5x5 transposed conv stride 2), inverse GDN between")
    w("- z: CompressAI `EntropyBottleneck` (factorized, per channel); y: `GaussianConditional` "
      f"with {len(mj['y']['scale_table'])} log-spaced scales 0.11..256")
    w("- GDN's reparametrised beta/gamma are baked into the ONNX graphs as constants "
      "(`x * rsqrt(conv1x1(x^2, gamma) + beta)`), identical maths.")
    w("")
    w("| graph | params | MACs / input pixel | ONNX size |")
    w("|---|---|---|---|")
    for n in ["g_a", "h_a", "h_s", "g_s"]:
        w(f"| {n} | {params[n]:,} | {macs[n]:,.0f} | {sizes[n] / 2**20:.2f} MiB |")
    enc = macs["g_a"] + macs["h_a"] + macs["h_s"]
    w(f"| total | {total_params:,} trainable (incl. entropy models, gains) | "
      f"encoder (g_a+h_a+h_s) {enc:,.0f}; decoder (h_s+g_s) {macs['h_s'] + macs['g_s']:,.0f} | |")
    w("")
    w("MACs counted with forward hooks on a 256x256 input (convs, transposed convs, GDN 1x1 convs), "
      "divided by 65,536 input pixels.")
    w("")
    w("## Training")
    w("")
    w("- Data: **real frames only** (`models/data.py`): AIA 193 and 304 flare cutouts, SWAP 174 "
      "(8-bit), EIT 195/171, the `singles` full-disk frames. AIA 171 (all 13 frames) is held out "
      "for validation. A synthetic SDO-like generator is a later issue; with ~50 frames this model "
      "is data-starved and will overfit to these instruments.")
    w("- Intensity transform (matches codec-core): 14-bit DN -> `t = (sqrt(DN+3/8) - sqrt(3/8)) / "
      "(sqrt(16383+3/8) - sqrt(3/8))`, DN clamped to [0,16383]; 8-bit -> `v/255`; other uint16 "
      "sources (EIT, singles): stored values through the same sqrt with ceiling 2^b-1, b the "
      "smallest bit depth holding the frame's maximum (codec-core's `IntensityTransform::Sqrt`).")
    w(f"- Crops {cfg['crop']}x{cfg['crop']}, batch {cfg['batch']}, biased toward crops with "
      "structure, random flips/rot90, random exposure gain x0.2..x3 on DN data (saturating at 16383).")
    w(f"- Loss `lambda[q]*255^2*MSE(t) + bpp`, one random q per batch; lambdas {cfg['lambdas']}.")
    w(f"- Adam, lr {cfg['lr']} at this checkpoint (gains {cfg['gain_lr']}), aux lr {cfg['aux_lr']}, "
      f"grad clip {cfg['clip']}; the lr schedule is in the notes below.")
    w(f"- Command: `cd /work/main && nohup nice -n 10 .venv/bin/python -m models.train --config "
      f"{config_path(cfg)} > models/runs/{cfg['name']}/stdout.log 2>&1 &`")
    w(f"- This checkpoint: iteration {ck['iter']:,}, {ck['wall_s'] / 3600:.2f} h wall time, device "
      f"{ck['device']} ({platform.processor() or platform.machine()}, 2 threads, shared with other "
      "jobs at nice 10; some stretches 1 thread, see notes). Log: `models/runs/<name>/log.csv` (not committed).")
    notes = cfg.get("notes") or []
    cpath = config_path(cfg)
    if not notes and os.path.exists(cpath):  # notes added after the run started
        notes = json.load(open(cpath)).get("notes", [])
    for note in notes:
        w(f"- Note: {note}")
    ips = throughput(cfg["name"])
    if ips:
        w(f"- Throughput (it/s column of log.csv, {len(ips)} rows): median {np.median(ips):.2f}, "
          f"range {min(ips):.2f}..{max(ips):.2f}; ~3.6 it/s on the idle 2-core CPU, much less "
          "while Rust builds share it (training runs at nice 10).")
    hist = training_history(cfg["name"])
    if hist:
        w("- Run history (from `models/runs/<name>/stdout.log`: resumes and lambda changes; on a "
          "lambda change each new level starts from the nearest old level's gains, scaled by "
          "sqrt(lambda ratio)):")
        for h in hist:
            w(f"  - `{h}`")
    w("")
    w("## Verification")
    w("")
    w("onnxruntime " + ort.__version__ + ", CPU provider, **graph optimization level pinned to "
      "ORT_ENABLE_BASIC** (codec-core should pin the same). Max abs difference ONNX vs PyTorch on "
      "held-out AIA 171 frame_00 (padded to 512x384), quality "
      f"{len(cfg['lambdas']) // 2 + 1}:")
    w("")
    w("| graph | max abs diff |")
    w("|---|---|")
    for n, d in diffs.items():
        w(f"| {n} | {d:.2e} |" if isinstance(d, float) else f"| {n} | {d} |")
    w("")
    w("## Rate-distortion (held-out AIA 171)")
    w("")
    w(f"Frames: {frames} of `aia-flare-20120719/171` (371x501, alternating exposures), raw DN through "
      "the sqrt transform, replicate-padded bottom/right to multiples of 64. Coded with the "
      "PACKAGE.md procedure re-implemented in numpy (`models/export.py: code_frame`) on the ONNX "
      "graphs and model.json only. bpp = code length from the quantized CDFs (-log2 of each "
      "symbol's quantized pmf; escapes as the escape bin + codec-core's bypass code, "
      "log2(33) + bit length of the zig-zagged overflow) for z and y, divided by the unpadded pixel count (no header). The last column is CompressAI's "
      "real rANS coder on the same latents (byte count incl. per-stream flush). PSNR is in the "
      "8-bit sqrt display domain, `round(255*t)` against `round(255*clip(x_hat, 0, 1))`, mean "
      f"over frames of 10 log10(255^2/MSE), as codec-core's helio-eval computes it. Took {rd_s:.0f} s.")
    w("")
    w("| quality | lambda | bpp | PSNR (dB) | rANS bpp |")
    w("|---|---|---|---|---|")
    for q, lam, b, p, r in rows:
        w(f"| {q} | {lam:g} | {b:.4f} | {p:.2f} | " + ("not run |" if math.isnan(r) else f"{r:.4f} |"))
    w("")
    w("Reference points from classical codecs on the same frames (Pillow; input `round(255*t)` "
      "as 8-bit grey, whole file size incl. headers, PSNR as above): "
      "`models/export.py: baselines`. JPEG 2000 here is Pillow/OpenJPEG, not the ffmpeg encoder "
      "helio-eval uses.")
    w("")
    w("| codec | setting | bpp | PSNR (dB) |")
    w("|---|---|---|---|")
    for c, prm, b, p in base:
        setting = f"quality {prm}" if c == "JPEG" else f"target {prm} bpp"
        w(f"| {c} | {setting} | {b:.4f} | {p:.2f} |")
    w("")
    w("## Notes for codec-core")
    w("")
    w("- Tensor names: g_a `x`->`y`; h_a `y`->`z`; h_s `z_hat`->`scales`,`means`; g_s `y_hat`->`x_hat`. "
      "All f32 NCHW, batch 1, dynamic H/W, opset 17.")
    w("- `idx` is CompressAI's `build_indexes`: the smallest `scale_table` entry >= max(scale, "
      "scale_bound), capped at the last entry (= the number of the first S-1 entries that are < "
      "max(scale, scale_bound)). See PACKAGE.md.")
    w("- Gains in model.json are already positive (exp of the trained log-gains).")
    open(os.path.join(a.out, "MODEL_CARD.md"), "w").write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
