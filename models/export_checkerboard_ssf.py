"""Export the P-frame entropy models trained by models/train_checkerboard_ssf.py
as an inter package (models/PACKAGE.md, "Inter package" with per-latent
entropy_model) and verify it.

    python -m models.export_checkerboard_ssf --ckpt models/checkpoints/ssf-checkerboard/last.pt \
        --out models/ssf-checkerboard [--motion package] [--residual checkerboard]

--motion / --residual pick what codes each latent: "package" (the base
package's own h_s, copied), "hyperprior" (the retrained h_s) or "checkerboard"
(retrained h_s + channel groups with checkerboard context). The motion latent
costs 0-3 % of a P-frame's bits (models/ssf/MODEL_CARD.md), so by default it
keeps the package's hyperprior and its decoder skips 8 network runs.

Every other graph is the base package's, copied byte for byte (frozen in
training), and so are the z tables (not trained). Then:
  1. the new graphs in onnxruntime (CPU, ORT_ENABLE_BASIC) against PyTorch;
  2. GoP coding of the held-out AIA 171 sequence with the PACKAGE.md procedure
     in numpy on the ONNX graphs and model.json alone (`export_ssf.code_p`,
     which follows each latent's entropy_model), this package beside the base
     package, the same I-frame (`--intra`) in front of both;
  3. the ablation of the training run (variants learned side by side on the
     same batches): ideal P-frame code length per variant on the same frames.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import time

import numpy as np
import torch

from models.checkerboard import anchor_mask
from models.clips import load_val_clip
from models.export import HS, PAD, code_frame, count_macs, psnr8, session
from models.export_checkerboard import ablation_table, bd_rate, card_header, code_frame_cb, export_graphs, group_graphs
from models.export_ssf import GRAPHS, code_p, decoded_t
from models.train import config_path, pad_to
from models.train_checkerboard_ssf import LATENTS, Frozen, build_heads, unpin, validate

PREFIX = {"motion": "m_", "residual": "r_"}


def intra_code(isess, imj, t, q):
    """(bits, x_hat) of an I-frame with either kind of intra package."""
    if imj.get("context"):
        return code_frame_cb(isess, imj, t, q)
    bits, x_hat, _ = code_frame(isess, imj, t, q)
    return bits, x_hat


def gop(sess, mj, isess, imj, clip, q):
    """Per frame (bpp, PSNR): frame 0 intra, the rest P from the decoded output."""
    bits, xh = intra_code(isess, imj, clip[0], q)
    ref = decoded_t(xh)
    out = [(bits / clip[0].size, psnr8(xh, clip[0]))]
    for t in clip[1:]:
        bm, br, xh, _ = code_p(sess, mj, t, ref, q)
        ref = decoded_t(xh)
        out.append(((bm + br) / t.size, psnr8(ref, t)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="models/checkpoints/ssf-checkerboard/last.pt")
    ap.add_argument("--out", default="models/ssf-checkerboard")
    ap.add_argument("--motion", default="package", choices=["package", "hyperprior", "checkerboard", "groups"])
    ap.add_argument("--residual", default="checkerboard",
                    choices=["package", "hyperprior", "checkerboard", "groups", "checkerboard+side",
                             "checkerboard+global+side"])
    ap.add_argument("--intra", default="models/checkerboard", help="intra package for the I-frames")
    ap.add_argument("--frames", type=int, default=13)
    ap.add_argument("--package", help="base inter package whose graphs the heads sit on (default: the "
                    "training run's); heads trained on another package with the same latents carry over")
    ap.add_argument("--all", nargs="*", default=[],
                    help="new graphs to run at ONNX Runtime's full optimization (models/subpixel.py)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cmd = "python -m models.export_checkerboard_ssf " + " ".join(sys.argv[1:])

    ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    if a.package:
        cfg["package"] = a.package
    # A joint run's trained transforms and z tables are in --package (its base
    # package): code z with those tables, as the codec will.
    frozen = Frozen(dict(cfg, joint=False), "cpu")
    heads = build_heads(cfg, frozen, "cpu")
    if cfg.get("init_pinned"):
        unpin(heads)
    heads.load_state_dict(ck["heads"])
    heads.eval()
    base_dir = cfg["package"]
    base_mj = json.load(open(os.path.join(base_dir, "model.json")))
    choice = {"motion": a.motion, "residual": a.residual}

    # 1. Files: base graphs, then the trained h_s / context graphs over them.
    os.makedirs(a.out, exist_ok=True)
    for f in os.listdir(a.out):
        if f.endswith(".onnx"):
            os.remove(os.path.join(a.out, f))
    for n in GRAPHS:
        shutil.copyfile(os.path.join(base_dir, f"{n}.onnx"), os.path.join(a.out, f"{n}.onnx"))
    mj = json.loads(json.dumps(base_mj))
    new_graphs, tags = [], []
    for latent in LATENTS:
        v, p = choice[latent], PREFIX[latent]
        if v == "package":
            continue
        head = heads[latent][v]
        # With pinned means h_s was frozen: the package's graph (copied above) ships byte for byte.
        export_graphs(head, a.out, p, h_s=not cfg.get("pin_means"))
        new_graphs.append(f"{p}h_s")
        if head.ctx is not None:
            new_graphs += [p + n for n in group_graphs(head)]
            mj[latent]["entropy_model"] = "channel-groups-checkerboard"
            mj[latent]["context"] = {"groups": list(head.groups), "local": head.variant.startswith("checkerboard")}
            gc = head.global_spec()
            if gc is not None:
                # Informational (PACKAGE.md): the r_cg{k}_n graphs hold it.
                mj[latent]["context"]["global"] = gc
            if head.side is not None:
                new_graphs.append(f"{p}side")
                mj[latent]["context"]["side"] = "pred"
            tags.append(f"{p[0]}cgcb{'-'.join(map(str, head.groups))}" + ("-pred" if head.side is not None else "")
                        + ("-gc" if gc is not None else ""))
        else:
            tags.append(f"{p[0]}hp")
    mj["name"] = "-".join([base_mj["name"]] + tags)
    mj["architecture"] = base_mj["architecture"] + "; " + ", ".join(
        f"{l} y coded in channel groups {mj[l]['context']['groups']} with checkerboard context"
        + (" and features of the prediction" if mj[l]["context"].get("side") else "")
        + (" and masked-attention global context" if mj[l]["context"].get("global") else "")
        for l in LATENTS if "context" in mj[l])
    with open(os.path.join(a.out, "model.json"), "w") as f:
        json.dump(mj, f, separators=(",", ":"))
    section = ""
    if a.all:
        from models.subpixel import apply
        section = apply(a.out, [], a.all, command=cmd + "  # its --all")
    mj = json.load(open(os.path.join(a.out, "model.json")))
    names = GRAPHS + [n for n in new_graphs if n not in GRAPHS]
    sess = {n: session(os.path.join(a.out, f"{n}.onnx")) for n in names}
    base_sess = {n: session(os.path.join(base_dir, f"{n}.onnx")) for n in GRAPHS}
    imj = json.load(open(os.path.join(a.intra, "model.json")))
    inames = ["g_a", "h_a", "h_s", "g_s"] + [f"cg{k}_{p}" for k in range(len(imj["context"]["groups"]))
                                             for p in (("a", "n") if imj["context"]["local"] else ("a",))] \
        if imj.get("context") else ["g_a", "h_a", "h_s", "g_s"]
    isess = {n: session(os.path.join(a.intra, f"{n}.onnx")) for n in inames}

    # 2. ONNX vs PyTorch on real latents: AIA 171 frame 1 predicted from frame 0.
    clip = load_val_clip(cfg["data"], 0, a.frames)
    q = frozen.num_qualities // 2
    diffs = {}
    with torch.no_grad():
        x0 = pad_to(torch.from_numpy(clip[0])[None, None], PAD)
        x1 = pad_to(torch.from_numpy(clip[1])[None, None], PAD)
        ref, ym, zm = frozen.analyse_motion(x1, frozen.intra(x0, q)["x_hat"].clamp(0, 1), q)
        pred = frozen.predict(ref, frozen.package_y_hat("motion", ym, zm), q)
        yr, zr = frozen.analyse_residual(x1, pred, q)
        lat = {"motion": (ym, zm), "residual": (yr, zr)}
        for latent in LATENTS:
            v, p = choice[latent], PREFIX[latent]
            if v == "package":
                continue
            head = heads[latent][v]
            yg, z_hat = lat[latent]
            hyper = head.h_s(z_hat)
            sc, mu = sess[f"{p}h_s"].run(None, {"z_hat": z_hat.numpy()})
            diffs[f"{p}h_s"] = float(max(np.abs(sc - hyper[:, :head.M].numpy()).max(),
                                         np.abs(mu - hyper[:, head.M:].numpy()).max()))
            if head.ctx is None:
                continue
            side = None
            if head.side is not None:
                side = sess[f"{p}side"].run(["side"], {"pred": pred.numpy()})[0]
                diffs[f"{p}side"] = float(np.abs(side - head.side(pred).numpy()).max())
                side = torch.from_numpy(side)
            for name, (mod, ins, start, G) in group_graphs(head).items():
                feed = {"hyper_scales": torch.from_numpy(sc), "hyper_means": torch.from_numpy(mu),
                        "y_prev": torch.round(yg[:, :start]), "side": side,
                        "anchors": torch.round(yg[:, start:start + G]) * anchor_mask(*yg.shape[-2:])}
                want = mod(*[feed[n] for n in ins])
                got = sess[p + name].run(["scales", "means"], {n: feed[n].numpy() for n in ins})
                diffs[p + name] = float(max(np.abs(g - w.numpy()).max() for g, w in zip(got, want)))
    for n, d in diffs.items():
        print(f"onnx vs torch {n}: max abs diff {d:.3g}", flush=True)

    # 3. GoP over the held-out sequence, both packages, same I-frames.
    rows = []
    t0 = time.time()
    for q in range(frozen.num_qualities):
        new = gop(sess, mj, isess, imj, clip, q)
        old = gop(base_sess, base_mj, isess, imj, clip, q)
        row = [q + 1]
        for fr in (old, new):
            row += [float(np.mean([b for b, _ in fr])), float(np.mean([p for _, p in fr])),
                    float(np.mean([b for b, _ in fr[1:]])), float(np.mean([p for _, p in fr[1:]]))]
        rows.append(row)
        print(f"q{q + 1}: base GoP {row[1]:.4f} bpp {row[2]:.2f} dB, P {row[3]:.4f}/{row[4]:.2f} | "
              f"new GoP {row[5]:.4f} bpp {row[6]:.2f} dB, P {row[7]:.4f}/{row[8]:.2f} "
              f"({100 * (row[7] / row[3] - 1):+.1f} % P bits)", flush=True)
    rd_s = time.time() - t0
    bd_p = bd_rate([(r[3], r[4]) for r in rows], [(r[7], r[8]) for r in rows])
    bd_gop = bd_rate([(r[1], r[2]) for r in rows], [(r[5], r[6]) for r in rows])
    print(f"BD-rate vs base package: P-frames {bd_p:+.1f} %, GoP {bd_gop:+.1f} %", flush=True)

    # 4. Ablation: ideal P-frame code length per variant (both latents as trained).
    abl = validate(frozen, heads, clip, "cpu")
    for v, pts in abl.items():
        print(f"ablation {v:13s} " + " ".join(f"q{q + 1} {b:.4f}/{p:.2f}" for q, (b, p) in enumerate(pts)))
    abl_bd = {v: bd_rate(abl["hyperprior"], abl[v]) for v in abl if v != "hyperprior"} if "hyperprior" in abl else {}
    for v, b in abl_bd.items():
        print(f"BD-rate {v} vs retrained hyperprior (ideal, P-frames): {b:+.1f} %")

    # MACs per input pixel of each exported entropy model, 256x256.
    Hh = 16
    macs = {}
    for latent in LATENTS:
        v, p = choice[latent], PREFIX[latent]
        if v == "package":
            continue
        head = heads[latent][v]
        macs[f"{p}h_s"] = count_macs(HS(head.h_s).eval(), torch.randn(1, head.N, Hh // 4, Hh // 4)) / 256 ** 2
        if head.side is not None:
            macs[f"{p}side"] = count_macs(head.side, torch.randn(1, 1, 256, 256)) / 256 ** 2
        if head.ctx is not None:
            for name, (mod, ins, start, G) in group_graphs(head).items():
                shapes = {"hyper_scales": head.M, "hyper_means": head.M, "y_prev": start, "anchors": G,
                          "side": head.SIDE_CH}
                macs[p + name] = count_macs(mod, *[torch.randn(1, shapes[n], Hh, Hh) for n in ins]) / 256 ** 2
    sizes = {n: os.path.getsize(os.path.join(a.out, f"{n}.onnx")) for n in macs}
    write_card(a, cmd, ck, cfg, mj, choice, diffs, rows, bd_p, bd_gop, abl, abl_bd, macs, sizes, rd_s)
    if section:
        with open(os.path.join(a.out, "MODEL_CARD.md"), "a") as f:
            f.write("\n" + section)
    print(f"wrote {a.out}")


def write_card(a, cmd, ck, cfg, mj, choice, diffs, rows, bd_p, bd_gop, abl, abl_bd, macs, sizes, rd_s):
    L = card_header(a, cmd, mj)
    w = L.append
    w("## What it is\n")
    w(f"The P-frame package `{cfg['package']}` (scale-space flow; its MODEL_CARD.md describes the "
      "networks) with a better entropy model for its latents, the source paper's channel groups + "
      "checkerboard context (section III.C, code `models/checkerboard.py`) as the intra package "
      "`models/checkerboard` has for I-frames. Multispectral X-frames use the same networks, so they "
      "gain too.\n")
    for latent in LATENTS:
        v = choice[latent]
        what = {"package": "the base package's hyperprior (h_s copied)",
                "hyperprior": "hyperprior with a retrained h_s",
                "groups": f"channel groups {mj[latent].get('context', {}).get('groups')} (no local context)",
                "checkerboard": f"channel groups {mj[latent].get('context', {}).get('groups')}, two "
                                "checkerboard passes each (anchors, then non-anchors with a 5x5 local context)",
                "checkerboard+side": f"channel groups {mj[latent].get('context', {}).get('groups')}, two "
                                     "checkerboard passes each, every pass also seeing 32 feature channels of the "
                                     "motion-compensated prediction (graph r_side: four 5x5 stride-2 convs, GELU "
                                     "between): conditional entropy coding, the prediction tells where the residual "
                                     "will be large without z bits",
                "checkerboard+global+side": f"channel groups {mj[latent].get('context', {}).get('groups')}, two "
                                            "checkerboard passes each, every pass also seeing 32 feature channels "
                                            "of the motion-compensated prediction (graph r_side), and the "
                                            "non-anchor passes the masked-attention global context "
                                            "(`GlobalContext`: one Transformer block, 2 heads, windows of 16x16 "
                                            "latent positions, over the local context, the group's hyper scales "
                                            "and means and the decoded anchors' errors)"}[v]
        w(f"- {latent} latent: {what}.")
    if cfg.get("joint"):
        w(f"- The residual transforms (r_g_a, r_h_a, r_g_s), gains and z tables trained with these heads "
          f"(joint run, below); the base package `{cfg['package']}` is that run's base.pt exported by "
          "models.export_ssf with the previous package's motion z tables, so the motion graphs are the "
          "previous package's weights. Coding procedure: `models/PACKAGE.md` (inter package, per-latent "
          "`entropy_model`) and `codec-core/BITSTREAM.md` (kind 2 for the latent's y section).\n")
    else:
        w("- Every other graph, the gains and the z tables are the base package's, byte for byte "
          "(frozen in training). Coding procedure: `models/PACKAGE.md` (inter package, per-latent "
          "`entropy_model`) and `codec-core/BITSTREAM.md` (kind 2 for the latent's y section).\n")
    w("| graph | MACs / input pixel | ONNX size |")
    w("|---|---:|---:|")
    for n, m in macs.items():
        w(f"| {n} | {m:,.0f} | {sizes[n] / 2**20:.2f} MiB |")
    w(f"| new entropy-model graphs total | {sum(macs.values()):,.0f} | |")
    w("\nBeside the base package's decoder networks (m_h_s, predict, r_h_s, r_g_s: MACs in its model card).\n")
    w("## Training\n")
    w(f"- `python -m models.train_checkerboard_ssf --config {config_path(cfg)}` "
      f"(resumes from `models/checkpoints/{cfg['name']}/last.pt`; needs `models/pack/synth-clips`, "
      "see the base model card).")
    T = cfg.get("T", 2) if cfg.get("joint") else 2
    w(f"- Data (`models/clips.py`): {T}-frame clips {cfg['crop']}x{cfg['crop']}, batch {cfg['batch']}, "
      f"{int(100 * cfg['p_synth'])} % helio-synth, the rest real sequences (AIA 193/304, EIT, SWAP), "
      f"{int(100 * cfg['p_xwl'])} % of the clips one instant in several wavelengths (X-frames); AIA 171 held "
      "out. Frame 0 coded by the intra package `" + cfg["intra_package"] + "`, the others by the P networks"
      + (", each from the previous reconstruction." if T > 2 else "."))
    trained = " and ".join(cfg.get("latents", LATENTS))
    if cfg.get("joint"):
        w(f"- Joint: the residual transforms, gains and z bottleneck trained together with the `{abl and next(iter(abl))}` "
          "heads (means free; the run started from the previous package's pinned heads with their mean "
          "corrections at zero, `CheckerboardGroups.unpin`) on the paper's loss, lambda[q] * 255^2 * pixel MSE "
          "+ bits of the residual's y and z, straight-through rounding; the motion networks frozen (every run "
          "that trained them grew the motion latent: models/README.md). The residual z density started "
          "fitted to the previous package's z tables (`models/package.py: fit_z_density`).")
    elif cfg.get("pin_means"):
        w("- Variants " + ", ".join(f"`{v}`" for v in abl) + f" side by side ({trained} latent), on the same "
          "batches. Means pinned: h_s is the package's, frozen, and the contexts correct only its scales, "
          "so y_hat and every decoded frame are exactly the base package's (the GoP table below shows "
          "the same PSNR) and the loss is the y bits alone; `hyperprior` is then the package itself.")
    else:
        w("- Variants " + ", ".join(f"`{v}`" for v in abl) + f" learned side by side ({trained}), from "
          "the package's h_s, on the same batches. Loss per variant: bits of the y latents + "
          "lambda[q] * 255^2 * pixel MSE of their latent errors (per-channel weights through the frozen "
          "r_g_s, and through m_g_s + warp for the prediction), gradient to the means only.")
    w(f"- Adam lr {cfg['lr']}, grad clip {cfg['clip']}. This checkpoint: iteration {ck['iter']:,}, "
      f"{ck['wall_s'] / 3600:.2f} h wall time, {ck['device']} ({platform.machine()}, {cfg['threads']} "
      "thread(s), nice 5, shared with builds).")
    for n in cfg.get("notes", []):
        w(f"- Note: {n}")
    w("\n## Verification\n")
    w("onnxruntime, CPU, ORT_ENABLE_BASIC, max abs difference against PyTorch on the latents of AIA 171 "
      "frame 1 predicted from frame 0, quality 4 (passes fed rounded latents):\n")
    w("| graph | max abs diff |")
    w("|---|---|")
    for n, d in diffs.items():
        w(f"| {n} | {d:.3g} |")
    w(f"\n## Rate at equal quality (held-out AIA 171, {len(load_val_clip(cfg['data'], 0, a.frames))} frames)\n")
    w(f"One GoP: frame 0 an I-frame with `{a.intra}`, the others P-frames from the previous decoded "
      "14-bit output, with the procedure in numpy on the ONNX graphs and model.json alone "
      "(`models/export_ssf.py: code_p`), for the base package and this one. bpp = code length from "
      "the quantized CDFs / pixels (+16 bits of gain per P-frame, no headers); PSNR in the 8-bit sqrt "
      f"display domain. Took {rd_s:.0f} s.\n")
    w("| quality | base GoP bpp | base GoP PSNR | base P bpp | base P PSNR | GoP bpp | GoP PSNR | P bpp | P PSNR | P bits |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        w(f"| {r[0]} | " + " | ".join(f"{x:.4f}" if i % 2 == 0 else f"{x:.2f}" for i, x in enumerate(r[1:]))
          + f" | {100 * (r[7] / r[3] - 1):+.1f} % |")
    w(f"\n**BD-rate against the base package: P-frames {bd_p:+.1f} %, whole GoP {bd_gop:+.1f} %** "
      "(PSNR, over the overlapping range; negative = fewer bits at equal quality).\n")
    w("## Ablation\n")
    w("Ideal P-frame code length (-log2 likelihoods for y, z from the package's tables) of every "
      "variant, both latents as trained, P-frames chained from their own reconstructions, bpp/PSNR "
      "(0-1 domain, not the 8-bit display PSNR above):\n")
    ablation_table(w, abl)
    if abl_bd:
        w("\nBD-rate against the retrained hyperprior: "
          + ", ".join(f"{v} {b:+.1f} %" for v, b in abl_bd.items()) + ".\n")
    open(os.path.join(a.out, "MODEL_CARD.md"), "w").write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
