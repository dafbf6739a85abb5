"""Put a trained narrow synthesis transform (models/synthesis.py) into a copy
of the package it decodes for: g_s of an intra package
(models/train_synthesis.py) or r_g_s of a P package (models/train_ssf.py with
residual_half).

    python -m models.export_synthesis --ckpt models/checkpoints/synthesis-h48/last.pt \
        --from models/checkerboard --out out/checkerboard-narrow
    python -m models.export_synthesis --graph r_g_s --ckpt models/checkpoints/ssf-residual-h32/last.pt \
        --from models/legacy/ssf-lowres-7da1b6efc2d1853f --out models/ssf-lowres

Copies the package folder `--from` to `--out` (every other graph and
model.json's tables stay byte for byte), exports the new graph, checks it
against PyTorch, rewrites it as Conv + DepthToSpace at ONNX Runtime's full
level (models/subpixel.py, which checks it is identical on 1 and 2 threads),
and appends a model card section with the training run, size, MACs per pixel
and the validation PSNR of the old and new decoder from the training log.
"""

import argparse
import csv
import json
import os
import shutil
import sys

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn

from models.export import count_macs, n_params, plain
from models.export_ssf import ResidualSynthesis
from models.subpixel import apply
from models.synthesis import NarrowSynthesis
from models.train import config_path


def trained(ck, graph, N, M):
    """The checkpoint's narrow synthesis and its width at 1/2 resolution."""
    cfg = ck["config"]
    if graph == "g_s":
        # The moving average is what the run validated, when it kept one.
        half, state = cfg["half"], ck.get("g_s_ema", ck["g_s"])
    else:
        half = cfg["residual_half"]
        state = {k[len("residual.g_s."):]: v for k, v in ck["model"].items() if k.startswith("residual.g_s.")}
    g_s = NarrowSynthesis(N, M, half)
    g_s.load_state_dict(state)
    return g_s, half


def validation(cfg, graph, Q, ck_iter):
    """(old, new) PSNR per quality: the package's decoder and the new one on the
    same validation frames, from the run's log (last validation row)."""
    rows = [r for r in csv.reader(open(os.path.join("models/runs", cfg["name"], "log.csv")))]
    head = rows[0]
    col = "val_psnr_q{}" if graph == "g_s" else "val_p_psnr_q{}"
    last = [r for r in rows[1:] if len(r) == len(head) and r[head.index(col.format(1))]][-1]
    if int(last[0]) != ck_iter:
        raise SystemExit(f"the log's last validation is at iteration {last[0]}, the checkpoint at {ck_iter}: "
                         "end the run with max_iters (in its config) so the two match")
    new = [float(last[head.index(col.format(q + 1))]) for q in range(Q)]
    if graph == "g_s":
        old = [float(last[head.index(f"package_psnr_q{q + 1}")]) for q in range(Q)]
    else:
        old = [v[3] for v in cfg["init_validation"]]
    return old, new, last[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--graph", choices=["g_s", "r_g_s"], default="g_s")
    ap.add_argument("--from", dest="src", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cmd = "python -m models.export_synthesis " + " ".join(sys.argv[1:])

    ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    mj = json.load(open(os.path.join(a.src, "model.json")))
    spec = mj if a.graph == "g_s" else mj["residual"]
    N, M, Q = spec["N"], spec["M"], len(spec["qualities"])
    g_s, half = trained(ck, a.graph, N, M)
    g_s = plain(g_s)
    old, new, at = validation(cfg, a.graph, Q, ck["iter"])

    if os.path.abspath(a.src) != os.path.abspath(a.out):
        shutil.rmtree(a.out, ignore_errors=True)
        shutil.copytree(a.src, a.out)
    path = os.path.join(a.out, f"{a.graph}.onnx")
    torch.manual_seed(0)  # the card's ONNX-vs-PyTorch figure, reproducible
    y = torch.round(torch.randn(1, M, 32, 32) * 3)
    if a.graph == "g_s":
        mod, ins, feeds = g_s, ["y_hat"], {"y_hat": y}
        outs = ["x_hat"]
    else:
        mod, ins, feeds = ResidualSynthesis(g_s).eval(), ["pred", "y_hat"], {"pred": torch.rand(1, 1, 512, 512), "y_hat": y}
        outs = ["x_hat"]
    dyn = {n: {2: f"{n}_h", 3: f"{n}_w"} for n in ins + outs}
    torch.onnx.export(mod, tuple(feeds.values()), path, input_names=ins, output_names=outs, opset_version=17,
                      dynamo=False, do_constant_folding=True, dynamic_axes=dyn)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    got = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(
        None, {k: v.numpy() for k, v in feeds.items()})[0]
    with torch.no_grad():
        diff = float(np.abs(got - mod(*feeds.values()).numpy()).max())
    print(f"{a.graph}: ONNX vs PyTorch max |diff| {diff:.2e}")
    assert diff < 1e-4

    # subpixel.apply lists the graph in full_optimization again, after the rewrite.
    mjp = os.path.join(a.out, "model.json")
    m = json.load(open(mjp))
    m["full_optimization"] = [g for g in m.get("full_optimization", []) if g != a.graph]
    with open(mjp, "w") as fh:
        json.dump(m, fh, separators=(",", ":"))
    timing = apply(a.out, [a.graph], command=cmd)

    macs = count_macs(g_s, torch.randn(1, M, 16, 16)) / 256 ** 2
    full = plain(nn.Sequential(*NarrowSynthesis(N, M, N)))
    macs_full = count_macs(full, torch.randn(1, M, 16, 16)) / 256 ** 2
    if a.graph == "g_s":
        train_cmd = f"python -m models.train_synthesis --config {config_path(cfg)}"
        what = (f"g_s of `{cfg['package']}` (the intra decoder), trained on the base package's real training "
                f"frames (`models/data.py`, AIA 171 held out), crops {cfg['crop']}x{cfg['crop']}, batch "
                f"{cfg['batch']}, Adam lr {cfg['lr']}; encoder, hyperprior and gains frozen, y_hat formed as the "
                "codec forms it (rounded around the means, times inv_gain); loss "
                + ("10 log10 MSE(g_s(y_hat), x)" if cfg.get("loss") == "log_mse" else
                   "lambda[q] * 255^2 * MSE(g_s(y_hat), x)")
                + " at a random quality per batch (the config's notes give changes during the run).")
        val = f"held-out AIA 171 frames {cfg.get('val_frames')}, I-frames, the same y_hat fed to both"
    else:
        train_cmd = f"python -m models.train_ssf --config {config_path(cfg)}"
        what = (f"r_g_s of `{cfg['init_package']}` (the residual decoder of P- and X-frames), trained by "
                f"models/train_ssf.py on its clips (`models/clips.py`: real sequences and helio-synth clips, "
                f"T={cfg['T']}, crops {cfg['crop']}, batch {cfg['batch']}, Adam lr {cfg['lr']}) with every other "
                "network frozen (`train_only`), so of the rate-distortion loss only the distortion term "
                "trains it.")
        val = (f"held-out AIA 171 frames {cfg['val_start']}..{cfg['val_start'] + cfg['val_len'] - 1}: an "
               "I-frame then P-frames, mean over the P-frames")
    lines = [
        f"## Narrower {a.graph} (`models/synthesis.py`)",
        "",
        f"This package's {a.graph} is a `NarrowSynthesis(N={N}, M={M}, half={half})`: the base stack with its "
        f"layers at 1/2 resolution narrowed from {N} to {half} channels (the deconvolution from 1/4 to 1/2 "
        f"resolution was 2/3 of the synthesis's work). Everything that makes the bits (analysis, hyperprior, "
        "context networks, gains, tables) is the previous package's byte for byte, so the rates above stand; "
        "PSNR figures above were measured with the previous decoder, the table below compares the two.",
        "",
        f"- Training: `{train_cmd}` (resumes from models/checkpoints/{cfg['name']}/last.pt). Started from {what}",
        f"- Run: iteration {ck['iter']:,}, {ck['wall_s'] / 3600:.2f} h wall time, {ck['device']} "
        f"({cfg['threads']} thread(s)).",
        f"- {a.graph}: {n_params(g_s):,} parameters, {macs:,.0f} MACs per pixel (full width: "
        f"{n_params(full):,}, {macs_full:,.0f}); {os.path.getsize(path) / 2**20:.2f} MiB; ONNX against "
        f"PyTorch max abs difference {diff:.1e}.",
        "",
        f"Validation PSNR (dB, sqrt intensity domain, 10 log10(1/MSE)) on {val}; from the training log, "
        f"iteration {at} (models/runs/{cfg['name']}/log.csv):",
        "",
        f"| quality | previous {a.graph} | this {a.graph} | difference |",
        "|---:|---:|---:|---:|",
    ] + [f"| {q + 1} | {o:.2f} | {n:.2f} | {n - o:+.2f} |" for q, (o, n) in enumerate(zip(old, new))] + [""]
    lines += [f"- Note: {note}" for note in cfg.get("notes", [])]
    card = os.path.join(a.out, "MODEL_CARD.md")
    with open(card, "a") as f:
        f.write("\n" + "\n".join(lines) + "\n\n" + timing)
    print(f"appended to {card}")


if __name__ == "__main__":
    main()
