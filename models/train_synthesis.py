"""Train a narrower intra synthesis transform (models/synthesis.py) for the
latents of a shipped package, whose encoder stays frozen.

    python -m models.train_synthesis --config models/configs/synthesis-h32.json

The bitstream does not change: g_a, h_a, h_s and the gains are the package's,
and y_hat is formed as the codec forms it (rounded around the hyperprior's
means, times inv_gain). The new g_s starts from the package's (init_from) and
learns MSE(g_s(y_hat), x) at a random quality per batch, weighted as the
rate-distortion loss's distortion term (lambda[q] * 255^2) or in dB (`loss`).
Resumes from models/checkpoints/<name>/last.pt like the other trainers.

Validation: held-out AIA 171 frames, PSNR per quality of the new g_s and of
the package's on the same y_hat (hard rounding, means of the package's h_s).
"""

import copy
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from models.data import CropSampler, load_train_frames, load_val_frames
from models.package import load_hyperprior
from models.synthesis import NarrowSynthesis
from models.train import at_end, load_optimizers, open_log, pad_to, save_atomic, start_run

DEFAULTS = dict(
    name="synthesis-h32", package="models/hyperprior", half=32, crop=128, batch=8,
    lr=1e-4, clip=1.0, max_iters=2_000_000, ckpt_every_s=180, val_every_s=600,
    val_frames=[0, 1, 4, 12], data="/work/shared/data", pack="models/pack/train.npz",
    seed=0, threads=2, notes=[],
    # "lambda_mse": lambda[q] * 255^2 * MSE, the rate-distortion loss's distortion term, which
    # weighs the top quality's batches hundreds of times the lowest's; "log_mse": 10 log10 MSE
    # (minus PSNR), the same weight in dB for every quality.
    loss="lambda_mse",
    # Decay of an exponential moving average of the weights (0: none). With one, the
    # average is what validation reports and export_synthesis exports.
    ema=0.0,
)


def psnr(x_hat, x):
    return 10 * math.log10(1 / max(F.mse_loss(x_hat.clamp(0, 1), x).item(), 1e-10))


@torch.no_grad()
def validate(g_s, val_set):
    g_s.eval()
    out = [float(np.mean([psnr(g_s(y)[..., :x.shape[2], :x.shape[3]], x) for x, y in per_q]))
           for per_q in val_set]
    g_s.train()
    return out


def main():
    cfg, device, ckpath, rundir = start_run(DEFAULTS)
    base, mj = load_hyperprior(cfg["package"])
    base = base.to(device).eval()
    for p in base.parameters():
        p.requires_grad_(False)
    Q = base.num_qualities
    g_s = NarrowSynthesis(mj["N"], mj["M"], cfg["half"]).to(device)

    src = cfg.get("pack") if cfg.get("pack") and os.path.exists(cfg["pack"]) else cfg["data"]
    val = load_val_frames(cfg["data"], cfg["val_frames"])
    val_set = []
    for q in range(Q):
        per_q = []
        for _, t in val:
            x = torch.from_numpy(t)[None, None].to(device)
            per_q.append((x, base.decoder_input(pad_to(x), q)))
        val_set.append(per_q)

    opt = torch.optim.Adam(g_s.parameters(), lr=cfg["lr"])
    it, wall, seed = 0, 0.0, cfg["seed"]
    ck = None
    if os.path.exists(ckpath):
        ck = torch.load(ckpath, map_location=device, weights_only=False)
        g_s.load_state_dict(ck["g_s"])
        load_optimizers(ck, (opt, "opt"))
        it, wall = ck["iter"], ck["wall_s"]
        opt.param_groups[0]["lr"] = cfg["lr"]
        # What a new run recorded about its start, kept across resumes (the config is re-read).
        cfg["notes"] = [n for n in ck["config"]["notes"] if n.startswith("init:")] + cfg["notes"]
        seed = cfg["seed"] + it
        print(f"resumed from {ckpath} at iter {it} ({wall:.0f} s)", flush=True)
    else:
        sampler0 = CropSampler(load_train_frames(src), 256, seed=seed + 7)
        x0 = torch.from_numpy(sampler0.batch(8)).to(device)
        keep = g_s.init_from(base.g_s, base.decoder_input(x0, Q - 1))
        cfg["notes"] = [f"init: package g_s layers 0-3, 1/2-resolution channels {keep.tolist()}"] + cfg["notes"]
        print(cfg["notes"][0], flush=True)
    ema = None
    if cfg["ema"]:
        ema = copy.deepcopy(g_s).requires_grad_(False)
        if ck is not None and "g_s_ema" in ck:
            ema.load_state_dict(ck["g_s_ema"])
    teacher = validate(base.g_s, val_set)
    print("package g_s on validation: " + " ".join(f"q{q + 1} {p:.2f}dB" for q, p in enumerate(teacher)),
          flush=True)

    sampler = CropSampler(load_train_frames(src), cfg["crop"], seed=seed)
    rng = np.random.default_rng(seed + 1)
    logf, log = open_log(rundir, ["iter", "wall_s", "it_per_s", "loss", "psnr"]
                         + [f"val_psnr_q{q + 1}" for q in range(Q)]
                         + [f"package_psnr_q{q + 1}" for q in range(Q)])
    acc = dict(n=0, loss=0.0, psnr=0.0)
    wall0, t_start, t_ck, it_ck, t_val = wall, time.time(), time.time(), it, 0.0
    while it < cfg["max_iters"]:
        q = int(rng.integers(Q))
        x = torch.from_numpy(sampler.batch(cfg["batch"])).to(device)
        y = base.decoder_input(x, q)
        mse = F.mse_loss(g_s(y), x)
        if cfg["loss"] == "log_mse":
            loss = 10 * torch.log10(mse)
        else:
            loss = mj["qualities"][q]["lambda"] * 255 ** 2 * mse
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(g_s.parameters(), cfg["clip"])
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for pe, pw in zip(ema.parameters(), g_s.parameters()):
                    pe.lerp_(pw, 1 - cfg["ema"])
        it += 1
        last = at_end(cfg, it)
        acc["n"] += 1
        acc["loss"] += loss.item()
        acc["psnr"] += 10 * math.log10(1 / max(mse.item(), 1e-10))

        now = time.time()
        if now - t_ck < cfg["ckpt_every_s"] and not last:
            continue
        ips = (it - it_ck) / (now - t_ck)
        wall = wall0 + (now - t_start)
        save_atomic({"g_s": g_s.state_dict(), "opt": opt.state_dict(), "iter": it, "wall_s": wall,
                     **({"g_s_ema": ema.state_dict()} if ema is not None else {}),
                     "config": cfg, "device": device}, ckpath)
        if now - t_val >= cfg["val_every_s"] or last:
            t_val = now
            v = validate(ema if ema is not None else g_s, val_set)
            if ema is not None:
                raw = validate(g_s, val_set)
                print("  raw weights: " + " ".join(f"q{q + 1} {p - t:+.2f}" for q, (p, t) in enumerate(zip(raw, teacher))),
                      flush=True)
            n = acc["n"]
            log.writerow([it, round(wall, 1), round(ips, 3), f"{acc['loss'] / n:.5g}", f"{acc['psnr'] / n:.4g}"]
                         + [f"{p:.4f}" for p in v] + [f"{p:.4f}" for p in teacher])
            logf.flush()
            print(f"iter {it} wall {wall:.0f}s {ips:.2f} it/s loss {acc['loss'] / n:.4f} psnr {acc['psnr'] / n:.2f}"
                  " | val " + " ".join(f"q{q + 1} {p:.2f}dB ({p - t:+.2f})" for q, (p, t) in enumerate(zip(v, teacher))),
                  flush=True)
            acc = dict(n=0, loss=0.0, psnr=0.0)
        else:
            print(f"iter {it} wall {wall:.0f}s {ips:.2f} it/s (checkpoint)", flush=True)
        t_ck, it_ck = time.time(), it
        if last:
            break


if __name__ == "__main__":
    main()
