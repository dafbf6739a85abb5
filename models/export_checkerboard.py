"""Export the channel-group / checkerboard entropy model as an intra package
(models/PACKAGE.md, entropy_model "channel-groups-checkerboard") and verify it.

    python -m models.export_checkerboard --ckpt models/checkpoints/checkerboard/last.pt \
        --out models/checkerboard

The package is the base package's g_a, h_a, g_s (copied byte for byte: they
were frozen in training) and gains, plus the trained h_s, the context graphs
cg{k}_a / cg{k}_n and a new z bottleneck. Then:
  1. every new graph in onnxruntime (CPU, ORT_ENABLE_BASIC) against PyTorch;
  2. the coding procedure of codec-core/BITSTREAM.md (groups, two passes)
     in numpy on the ONNX graphs and model.json alone, on the 13 held-out AIA
     171 frames, beside the base package coded the same way (export.code_frame):
     bpp from the quantized CDFs and PSNR per quality;
  3. the ablation of the training run (all variants learned side by side from
     the same start on the same batches): ideal code length (-log2 likelihood)
     per variant on the same frames.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn as nn

from models.checkerboard import anchor_mask
from models.data import load_val_frames
from models.export import (HS, PAD, build_indexes, code_bits, code_frame, code_hyper, count_macs,
                           psnr8, round_half_away, session)
from models.train import config_path, pad_to
from models.train_checkerboard import build, rates

BASE_GRAPHS = ["g_a", "h_a", "g_s"]


class GroupPass(nn.Module):
    """One pass of one group as a graph: inputs hyper_scales, hyper_means (h_s outputs),
    y_prev (groups before it, k > 0), anchors (non-anchor pass only) and side
    (side features, for a head with them), in that order."""

    def __init__(self, ctx, with_prev, non_anchor, with_side=False):
        super().__init__()
        self.ctx, self.with_prev, self.non_anchor, self.with_side = ctx, with_prev, non_anchor, with_side

    def forward(self, hyper_scales, hyper_means, *rest):
        rest = list(rest)
        side = rest.pop() if self.with_side else None
        hyper = torch.cat([hyper_scales, hyper_means], 1)
        y_prev = rest[0] if self.with_prev else None
        anchors = rest[-1] if self.non_anchor else None
        return self.ctx.params(hyper, y_prev, anchors, side)


def group_graphs(head):
    """name -> (module, input names) for the shipped head's context graphs
    (none for a plain hyperprior head)."""
    out = {}
    if head.ctx is None:
        return out
    start = 0
    side = head.side is not None
    for k, (G, g) in enumerate(zip(head.groups, head.ctx)):
        for p in ("a", "n") if g.lc is not None else ("a",):
            ins = (["hyper_scales", "hyper_means"] + (["y_prev"] if k > 0 else [])
                   + (["anchors"] if p == "n" else []) + (["side"] if side else []))
            out[f"cg{k}_{p}"] = (GroupPass(g, k > 0, p == "n", side).eval(), ins, start, G)
        start += G
    return out


def export_graphs(head, out, prefix="", h_s=True):
    """h_s (unless `h_s` is False), the side features and the context passes of
    `head` as {prefix}h_s.onnx, {prefix}side.onnx, {prefix}cg{k}_{a,n}.onnx."""
    M, N = head.M, head.N
    h, w = 8, 12
    if h_s:
        torch.onnx.export(HS(head.h_s).eval(), (torch.randn(1, N, 2, 3),), os.path.join(out, f"{prefix}h_s.onnx"),
                          input_names=["z_hat"], output_names=["scales", "means"],
                          dynamic_axes={n: {2: f"{n}_h", 3: f"{n}_w"} for n in ["z_hat", "scales", "means"]},
                          opset_version=17, dynamo=False, do_constant_folding=True)
    if head.side is not None:
        # Side features of the prediction: an image at full size in, latent size out.
        torch.onnx.export(head.side.eval(), (torch.rand(1, 1, 16 * h, 16 * w),),
                          os.path.join(out, f"{prefix}side.onnx"), input_names=["pred"], output_names=["side"],
                          dynamic_axes={"pred": {2: "H", 3: "W"}, "side": {2: "h", 3: "w"}},
                          opset_version=17, dynamo=False, do_constant_folding=True)
    for name, (mod, ins, start, G) in group_graphs(head).items():
        dummy = {"hyper_scales": torch.rand(1, M, h, w), "hyper_means": torch.randn(1, M, h, w),
                 "y_prev": torch.randn(1, start, h, w), "anchors": torch.randn(1, G, h, w),
                 "side": torch.randn(1, head.SIDE_CH, h, w)}
        # One spatial size for every input and output of a pass.
        dyn = {n: {2: "h", 3: "w"} for n in ins + ["scales", "means"]}
        torch.onnx.export(mod, tuple(dummy[n] for n in ins), os.path.join(out, f"{prefix}{name}.onnx"),
                          input_names=ins, output_names=["scales", "means"],
                          dynamic_axes=dyn, opset_version=17, dynamo=False, do_constant_folding=True)


def code_groups(sess, spec, yg, scales, means, prefix="", side_img=None):
    """y of one latent in channel groups, two checkerboard passes each
    (codec-core/BITSTREAM.md kind 2), with the graphs {prefix}cg{k}_{a,n};
    spec holds y's tables and the context; side_img [1,1,H,W] feeds
    {prefix}side when the context has side features. Returns (bits, y_hat gained)."""
    _, M, h, w = yg.shape
    anchor = anchor_mask(h, w).numpy().astype(bool)[0, 0]
    y_hat = np.zeros_like(yg)
    bits, start = 0.0, 0
    side = None
    if spec["context"].get("side"):
        side = sess[f"{prefix}side"].run(["side"], {spec["context"]["side"]: side_img})[0]
    for k, G in enumerate(spec["context"]["groups"]):
        feed = {"hyper_scales": scales, "hyper_means": means}
        if side is not None:
            feed["side"] = side
        if k > 0:
            feed["y_prev"] = y_hat[:, :start].copy()
        passes = [("a", anchor), ("n", ~anchor)] if spec["context"]["local"] else [("a", np.ones_like(anchor))]
        for p, sel in passes:
            if p == "n":
                feed["anchors"] = (y_hat[:, start:start + G] * anchor).astype(np.float32)
            s, mu = sess[f"{prefix}cg{k}_{p}"].run(["scales", "means"], feed)
            yk = yg[:, start:start + G]
            sym = round_half_away(yk - mu)[:, :, sel]
            idx = build_indexes(s[:, :, sel], spec["y"]["scale_table"], spec["y"]["scale_bound"])
            bits += code_bits(sym, idx, spec["y"]["offsets"], spec["y"]["cdfs"])
            blk = y_hat[:, start:start + G]
            blk[:, :, sel] = (sym + mu[:, :, sel]).astype(np.float32)
        start += G
    return bits, y_hat


def code_frame_cb(sess, mj, t, q):
    """codec-core/BITSTREAM.md kind 2 in numpy; returns (bits, x_hat [H,W])."""
    H, W = t.shape
    yg, ig, _, bits, scales, means = code_hyper(sess, mj, t, q)
    by, y_hat = code_groups(sess, mj, yg, scales, means)
    x_hat = sess["g_s"].run(None, {"y_hat": (y_hat * ig).astype(np.float32)})[0][0, 0, :H, :W]
    return bits + by, x_hat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="models/checkpoints/checkerboard/last.pt")
    ap.add_argument("--out", default="models/checkerboard")
    ap.add_argument("--variant", default="checkerboard")
    # Heads trained on a models.train checkpoint's transforms (config base_ckpt):
    # the package that checkpoint was exported to (models.export), whose graphs
    # and gains are then the ones copied.
    ap.add_argument("--package", help="base package (default: the run config's)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cmd = "python -m models.export_checkerboard " + " ".join(sys.argv[1:])

    ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    if a.package:
        cfg = dict(cfg, package=a.package, base_ckpt=None)
    elif cfg.get("base_ckpt"):
        raise SystemExit(f"{a.ckpt} trained on {cfg['base_ckpt']}: export that with models.export "
                         "and pass its folder as --package")
    base, heads = build(cfg, "cpu")
    heads.load_state_dict(ck["heads"])
    base.entropy_bottleneck.load_state_dict(ck["z"])
    base.eval()
    heads.eval()
    base.entropy_bottleneck.update(force=True)
    head = heads[a.variant]
    base_dir = cfg["package"]
    base_mj = json.load(open(os.path.join(base_dir, "model.json")))

    os.makedirs(a.out, exist_ok=True)
    for n in BASE_GRAPHS:
        shutil.copyfile(os.path.join(base_dir, f"{n}.onnx"), os.path.join(a.out, f"{n}.onnx"))
    export_graphs(head, a.out)
    eb = base.entropy_bottleneck
    mj = dict(base_mj)
    gc = head.global_spec()
    context = {"groups": list(head.groups), "local": head.variant.startswith("checkerboard")}
    if gc is not None:
        # Informational: the cg{k}_n graphs hold it, the procedure is unchanged.
        context["global"] = gc
    mj.update({
        "name": f"{base_mj['name']}-cgcb{'-'.join(map(str, head.groups))}" + ("-gc" if gc is not None else ""),
        "architecture": base_mj["architecture"] + "; y coded in uneven channel groups with checkerboard context"
        + (" and windowed masked-attention global context" if gc is not None else ""),
        "entropy_model": "channel-groups-checkerboard",
        "context": context,
        "z": {"medians": eb._get_medians().detach().reshape(-1).tolist(), "offsets": eb._offset.tolist(),
              "cdfs": [eb._quantized_cdf[i, : eb._cdf_length[i]].tolist() for i in range(eb._cdf_length.numel())]},
    })
    with open(os.path.join(a.out, "model.json"), "w") as f:
        json.dump(mj, f, separators=(",", ":"))
    mj = json.load(open(os.path.join(a.out, "model.json")))
    names = ["g_a", "h_a", "h_s", "g_s"] + [n for n in group_graphs(head)]
    sess = {n: session(os.path.join(a.out, f"{n}.onnx")) for n in names}
    base_sess = {n: session(os.path.join(base_dir, f"{n}.onnx")) for n in ["g_a", "h_a", "h_s", "g_s"]}

    # 1. ONNX vs PyTorch on a held-out frame: h_s, then every pass with the
    #    inputs the numpy procedure feeds it.
    frames = load_val_frames()
    t0 = frames[0][1]
    q = base.num_qualities // 2
    diffs = {}
    with torch.no_grad():
        x = pad_to(torch.from_numpy(t0)[None, None], PAD)
        yg = base.g_a(x) * base.gain(q)[None, :, None, None]
        z_hat = eb.quantize(base.h_a(yg), "dequantize", eb._get_medians())
        hyper = head.h_s(z_hat)
        sc, mu = sess["h_s"].run(None, {"z_hat": z_hat.numpy()})
        diffs["h_s"] = float(max(np.abs(sc - hyper[:, :head.M].numpy()).max(),
                                 np.abs(mu - hyper[:, head.M:].numpy()).max()))
        for name, (mod, ins, start, G) in group_graphs(head).items():
            feed = {"hyper_scales": torch.from_numpy(sc), "hyper_means": torch.from_numpy(mu),
                    "y_prev": torch.round(yg[:, :start]), "anchors": torch.round(yg[:, start:start + G])
                    * anchor_mask(*yg.shape[-2:])}
            want = mod(*[feed[n] for n in ins])
            got = sess[name].run(["scales", "means"], {n: feed[n].numpy() for n in ins})
            diffs[name] = float(max(np.abs(g - w.numpy()).max() for g, w in zip(got, want)))
    for n, d in diffs.items():
        print(f"onnx vs torch {n}: max abs diff {d:.3g}")

    # 2. Coding procedure in numpy, all 13 held-out frames, both packages.
    rows = []
    t_start = time.time()
    for q in range(base.num_qualities):
        r = {"new": ([], []), "base": ([], [])}
        for _, t in frames:
            bits, xh = code_frame_cb(sess, mj, t, q)
            r["new"][0].append(bits / t.size)
            r["new"][1].append(psnr8(xh, t))
            bits, xh, _ = code_frame(base_sess, base_mj, t, q)
            r["base"][0].append(bits / t.size)
            r["base"][1].append(psnr8(xh, t))
        row = (q + 1, *(float(np.mean(v)) for k in ("base", "new") for v in r[k]))
        rows.append(row)
        print(f"q{q + 1}: base {row[1]:.4f} bpp {row[2]:.2f} dB | {a.variant} {row[3]:.4f} bpp {row[4]:.2f} dB "
              f"({100 * (row[3] / row[1] - 1):+.1f} % bits)", flush=True)
    rd_s = time.time() - t_start

    # 3. Ablation: ideal code length of every variant on the same frames.
    abl = {v: [] for v in heads}
    with torch.no_grad():
        for q in range(base.num_qualities):
            acc = {v: ([], []) for v in heads}
            for _, t in frames:
                x = torch.from_numpy(t)[None, None]
                H, W = t.shape
                bz, out, _ = rates(base, heads, pad_to(x, PAD), q, H * W)
                for v, (by, y_hat) in out.items():
                    xh = base.g_s(y_hat * base.inv_gain(q)[None, :, None, None])[0, 0, :H, :W]
                    acc[v][0].append(float(bz + by))
                    acc[v][1].append(psnr8(xh.numpy(), t))
            for v in heads:
                abl[v].append((float(np.mean(acc[v][0])), float(np.mean(acc[v][1]))))
    for v in heads:
        print(f"ablation {v:13s} " + " ".join(f"q{q + 1} {b:.4f}/{p:.2f}" for q, (b, p) in enumerate(abl[v])))
    print(f"BD-rate vs base package (numpy coder): {bd_rate([(r[1], r[2]) for r in rows], [(r[3], r[4]) for r in rows]):+.1f} %")
    # The ablation's anchor: the retrained hyperprior, else (a run started from trained heads) checkerboard.
    anchor = next((v for v in ("hyperprior", "checkerboard") if v in abl), None)
    for v in abl:
        if anchor and v != anchor:
            print(f"BD-rate {v} vs {'retrained hyperprior' if anchor == 'hyperprior' else anchor} (ideal): "
                  f"{bd_rate(abl[anchor], abl[v]):+.1f} %")

    # MACs per input pixel of the entropy model (h_s + every pass), 256x256.
    Hh = 16
    macs = {"h_s": count_macs(HS(head.h_s).eval(), torch.randn(1, head.N, Hh // 4, Hh // 4)) / 256 ** 2}
    for name, (mod, ins, start, G) in group_graphs(head).items():
        shapes = {"hyper_scales": head.M, "hyper_means": head.M, "y_prev": start, "anchors": G}
        macs[name] = count_macs(mod, *[torch.randn(1, shapes[n], Hh, Hh) for n in ins]) / 256 ** 2
    params = sum(p.numel() for p in head.parameters())
    sizes = {n: os.path.getsize(os.path.join(a.out, f"{n}.onnx")) for n in names}
    write_card(a, cmd, ck, cfg, mj, diffs, rows, abl, macs, params, sizes, rd_s)
    print(f"wrote {a.out}")


def bd_rate(anchor, test):
    """Bjontegaard delta rate in % (piecewise cubic, as helio-eval's metrics.rs):
    mean log10 rate difference over the overlapping PSNR range; points (bpp, dB)."""
    from scipy.interpolate import PchipInterpolator

    def curve(pts):
        pts = sorted(pts, key=lambda p: p[1])
        return np.array([p[1] for p in pts]), np.log10([p[0] for p in pts])
    (qa, ra), (qt, rt) = curve(anchor), curve(test)
    lo, hi = max(qa[0], qt[0]), min(qa[-1], qt[-1])
    if hi <= lo:
        return float("nan")
    ia = PchipInterpolator(qa, ra).integrate(lo, hi)
    it = PchipInterpolator(qt, rt).integrate(lo, hi)
    return float((10 ** ((it - ia) / (hi - lo)) - 1) * 100)


def bits_change(new, old):
    return f"{100 * (new / old - 1):+.1f} %"


def ablation_table(w, abl):
    """Writes a markdown table of {variant: [(bpp, psnr) per quality]} through `w`."""
    w("| quality | " + " | ".join(abl) + " |")
    w("|---|" + "---:|" * len(abl))
    for q in range(len(next(iter(abl.values())))):
        w(f"| {q + 1} | " + " | ".join(f"{abl[v][q][0]:.4f} / {abl[v][q][1]:.2f}" for v in abl) + " |")


def card_header(a, cmd, mj):
    """A model card's first lines: name, when and by which command it was exported."""
    return [f"# {mj['name']}\n",
            f"Exported {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from `{a.ckpt}` by:\n",
            f"    {cmd}\n",
            "Every number below was printed or computed by that command (run from the repo root).\n"]


def write_card(a, cmd, ck, cfg, mj, diffs, rows, abl, macs, params, sizes, rd_s):
    L = card_header(a, cmd, mj)
    w = L.append
    w("## Architecture\n")
    glob = "global" in mj["context"]
    w(f"The source paper's entropy model (section III.C) "
      + ("with its masked-attention global context, " if glob else "without its masked-attention global context, ")
      + f"on the transforms of `{cfg['package']}` (code: `models/checkerboard.py`). y (M={mj['M']}) is "
      f"split into channel groups {mj['context']['groups']}, coded in that order; each group in two "
      "checkerboard passes: anchors ((row+col) even) from the hyper-synthesis output and the decoded "
      "earlier groups (channel context), then non-anchors adding a 5x5 conv over the group's decoded "
      "anchors (local context)"
      + (", passed through a Transformer block (layer norm, 2-head self-attention in windows of "
         f"{mj['context']['global']['window']}x{mj['context']['global']['window']} latent positions, MLP): "
         "the global context" if glob else "")
      + ". 2 network runs per group, each over the whole latent: decoding stays "
      "parallel. Procedure byte by byte: `codec-core/BITSTREAM.md`, entropy model kind 2.\n")
    w("- g_a, h_a, g_s and the per-quality gains are the base package's, copied byte for byte "
      "(frozen in training); h_s, the context networks and the z bottleneck were trained.")
    w("- Channel context of group k: 5x5 conv (y_hat of groups < k -> 64), GELU, 5x5 conv -> 2G. "
      "Local context: 5x5 conv over the anchors (non-anchors zeroed) -> 2G. Parameters: 1x1 convs "
      "(2M + 2G + 2G -> 128 -> 96 -> 2G), GELU between."
      + (" Global context (`GlobalContext`): LayerNorm, q/k/v linear 2G -> 3x32, 2 heads, keys of the "
         "padding of partial windows masked, linear 32 -> 2G, residual; LayerNorm, MLP 2G -> 4G -> 2G, residual; "
         "both residual branches start at zero, so training starts from the checkerboard head." if glob else "")
      + "\n")
    w("| graph | MACs / input pixel | ONNX size |")
    w("|---|---:|---:|")
    for n, m in macs.items():
        w(f"| {n} | {m:,.0f} | {sizes[n] / 2**20:.2f} MiB |")
    w(f"| entropy model total (h_s + passes) | {sum(macs.values()):,.0f} | |")
    w(f"\nTrainable parameters of the entropy model (h_s + contexts): {params:,}. The base transforms "
      "g_a + g_s cost 20,688 MACs/pixel (base model card).\n")
    w("## Training\n")
    w(f"- `python -m models.train_checkerboard --config {config_path(cfg)}` "
      f"(resumes from `models/checkpoints/{cfg['name']}/last.pt`).")
    w("- Data: the base package's real training frames (`models/data.py`: AIA 193/304, SWAP, EIT, "
      "singles; AIA 171 held out), crops "
      f"{cfg['crop']}x{cfg['crop']}, batch {cfg['batch']}, random exposure gain, one random quality per batch.")
    if cfg.get("joint"):
        w('- Loss: bits (z + y) + lambda[q] * 255^2 * pixel MSE of g_s(y_hat), y_hat rounded with a straight-through gradient, so g_a, h_a, g_s, the gains and the heads train together (`joint`; the base package holds the transforms this run ended with).')
    else:
        w("- Loss per variant: bits (z + y) + lambda[q] * 255^2 * pixel MSE of its latent errors, "
          "estimated through per-channel weights of the frozen g_s (`distortion_weights`), gradient to the "
          "means only; summed over the variants.")
    w(f"- Adam lr {cfg['lr']}, aux lr {cfg['aux_lr']}, grad clip {cfg['clip']}.")
    w(f"- This checkpoint: iteration {ck['iter']:,}, {ck['wall_s'] / 3600:.2f} h wall time, {ck['device']} "
      f"({platform.machine()}, {cfg['threads']} thread(s), nice 5-10, shared with builds and benchmarks).")
    for n in cfg.get("notes", []):
        w(f"- Note: {n}")
    w("\n## Verification\n")
    w("onnxruntime, CPU, ORT_ENABLE_BASIC. Max abs difference ONNX vs PyTorch on AIA 171 frame_00, "
      "quality 4 (passes fed rounded latents):\n")
    w("| graph | max abs diff |")
    w("|---|---|")
    for n, d in diffs.items():
        w(f"| {n} | {d:.3g} |")
    w("\n## Rate at equal quality (held-out AIA 171)\n")
    w("All 13 frames of `aia-flare-20120719/171` (371x501, raw DN through the sqrt transform), coded "
      "with the procedure in numpy on the ONNX graphs and model.json alone (this package: BITSTREAM.md "
      f"kind 2; base `{cfg['package']}`: kind 1, `models/export.py: code_frame`). bpp = code length from "
      "the quantized CDFs (escapes included) / unpadded pixels; PSNR in the 8-bit sqrt display domain. "
      f"Took {rd_s:.0f} s.\n")
    w("| quality | base bpp | base PSNR | this bpp | this PSNR | bits |")
    w("|---|---:|---:|---:|---:|---:|")
    for q, bb, bp, nb, npn in rows:
        w(f"| {q} | {bb:.4f} | {bp:.2f} | {nb:.4f} | {npn:.2f} | {bits_change(nb, bb)} |")
    bd = bd_rate([(r[1], r[2]) for r in rows], [(r[3], r[4]) for r in rows])
    w(f"\n**BD-rate of this package against the base package: {bd:+.1f} %** (PSNR, over the overlapping "
      f"range; negative = fewer bits at equal quality). Per quality the PSNR differs by up to "
      f"{max(abs(r[4] - r[2]) for r in rows):.2f} dB: the means move y_hat, and at the low qualities "
      "(small lambda) the training trades a little quality for bits as the RD loss asks.\n")
    w("## Ablation (as the paper's Table I)\n")
    if cfg.get("init") and "package" in cfg["init"]:
        w(f"The variants learned side by side in the same run, from the same start (the heads of `"
          f"{cfg['init']['package']}`, read back by `models/package.py: load_heads`), on the same batches, "
          "sharing g_a/h_a/g_s and z. Ideal code length (-log2 of the likelihoods, hard rounding), all 13 "
          "frames, bpp/PSNR:\n")
    elif cfg.get("init"):
        w(f"The variants learned side by side in the same run, from the same start (the `"
          f"{'`, `'.join(sorted(set(cfg['init']['from'].values())))}` head of `{cfg['init']['ckpt']}`), on the "
          "same batches, sharing g_a/h_a/g_s and z; `+global` adds the global context. The earlier rows of "
          "the ablation (hyperprior, groups) are in that run's package card. Ideal code "
          "length (-log2 of the likelihoods, hard rounding), all 13 frames, bpp/PSNR:\n")
    else:
        w("The variants learned side by side in the same run, from the same start (the base h_s), on the "
          "same batches, sharing g_a/h_a/g_s and z: `hyperprior` is the base h_s retrained under identical "
          "conditions, `groups` adds the channel context, `checkerboard` the local context too. Ideal code "
          "length (-log2 of the likelihoods, hard rounding), all 13 frames, bpp/PSNR:\n")
    ablation_table(w, abl)
    ref = abl.get("hyperprior")
    if ref:
        w("\nBD-rate (PSNR) against the retrained hyperprior, the issue's ablation at equal quality: "
          + ", ".join(f"{v} {bd_rate(ref, abl[v]):+.1f} %" for v in abl if v != "hyperprior")
          + f"; the retrained hyperprior against the base package: "
          f"{bd_rate([(r[1], r[2]) for r in rows], ref):+.1f} % (ideal code length vs the base's coded bits).\n")
    if "checkerboard" in abl and len(abl) > 1 and not ref:
        w("\nBD-rate (PSNR) against `checkerboard`: "
          + ", ".join(f"{v} {bd_rate(abl['checkerboard'], abl[v]):+.1f} %" for v in abl if v != "checkerboard")
          + ".\n")
    w(("" if glob else "Global context (the paper's masked attention): `models/configs/checkerboard-global.json`. ")
      + "Decode time per frame: `bash pipelines/bench-entropy.sh`.")
    open(os.path.join(a.out, "MODEL_CARD.md"), "w").write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
