"""Train the gained mean-scale hyperprior.

    python -m models.train --config models/configs/hyperprior.json

Runs unchanged on CPU or CUDA. Re-running the same command resumes from
models/checkpoints/<name>/last.pt. Each training step draws one quality index
q for the whole batch and minimises lambda[q] * 255^2 * MSE + bpp.

Validation (every checkpoint): the first `val_frames` held-out AIA 171 frames,
each quality, model in eval mode (hard rounding of z and y), bpp from the
likelihoods (-log2 p summed over y and z, divided by the unpadded pixel
count). This is the ideal-code-length estimate, not real entropy coding;
export.py measures the quantized-CDF code length for the packaged model.
PSNR is on the sqrt-transformed intensities t, as 8-bit: 10 log10(1/MSE(t)).
"""

import argparse
import csv
import glob
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from models.data import batch_stream, load_train_frames, load_val_frames
from models.hyperprior import GainedMeanScaleHyperprior

DEFAULTS = dict(
    name="hyperprior", N=64, M=96,
    lambdas=[0.0018, 0.0067, 0.025, 0.0932, 0.18, 0.36],
    crop=128, batch=8, lr=1e-4, gain_lr=1e-3, aux_lr=1e-3, clip=1.0,
    max_iters=2_000_000, ckpt_every_s=180, val_every_s=360, val_frames=[0, 1, 4, 12],
    data="/work/shared/data", seed=0, threads=2,
    notes=[],  # free-text run history, copied into the model card
    # A new run may continue a shipped package instead of starting from scratch
    # (its checkpoint being elsewhere): its transforms, hyper networks and gains.
    # Packages hold no z density, so `init_z` names a checkerboard-trainer
    # checkpoint whose "z" was trained on that package's transforms (if absent, z
    # re-learns from its initialisation).
    init_package=None, init_z=None,
    # Processes cutting crops (0: in the training loop, as on the 2-core CPU; a
    # GPU needs several to keep up). Overrides for CUDA go in "cuda" (start_run).
    workers=0, cuda={},
    # With --max-seconds: multiply every learning rate by decay_factor once, this
    # many seconds before the end (a short run's final decay, as the CPU runs
    # did by hand before export).
    decay_last_s=0, decay_factor=0.3,
)


def pad_to(x, m=64):
    """Replicate-pad [1,1,H,W] on the bottom/right to multiples of m."""
    H, W = x.shape[-2:]
    ph, pw = (-H) % m, (-W) % m
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if (ph or pw) else x


def decay_late(cfg, *opts):
    """Learning-rate decay for the last decay_last_s seconds of a budgeted run."""
    if cfg.get("decay_last_s", 0) <= 0 or cfg.get("_decayed") or seconds_left() > cfg["decay_last_s"]:
        return
    cfg["_decayed"] = True
    for opt in opts:
        for g in opt.param_groups:
            g["lr"] *= cfg["decay_factor"]
    print(f"last {cfg['decay_last_s']} s: learning rates x{cfg['decay_factor']}", flush=True)


def bpp_of(likelihoods, npix):
    return sum(-torch.log2(l).sum() for l in likelihoods.values()) / npix


@torch.no_grad()
def validate(model, val, device):
    model.eval()
    out = []
    for q in range(model.num_qualities):
        bpps, mses = [], []
        for _, t in val:
            x = torch.from_numpy(t)[None, None].to(device)
            H, W = x.shape[-2:]
            r = model(pad_to(x), q)
            x_hat = r["x_hat"][..., :H, :W].clamp(0, 1)
            bpps.append(bpp_of(r["likelihoods"], H * W).item())
            mses.append(F.mse_loss(x_hat, x).item())
        out.append((float(np.mean(bpps)), float(np.mean([10 * math.log10(1 / m) for m in mses]))))
    model.train()
    return out


def open_log(rundir, header):
    """The run's log.csv for appending (a resumed run continues it), with
    `header` written when the file is new; returns (file, csv writer)."""
    path = os.path.join(rundir, "log.csv")
    new = not os.path.exists(path)
    f = open(path, "a", newline="")
    log = csv.writer(f)
    if new:
        log.writerow(header)
    return f, log


# Set by start_run from --max-seconds: the wall-clock time at which a run ends (at_end).
_STOP_AT = math.inf


def at_end(cfg, it):
    """True on a run's last iteration: max_iters reached or the --max-seconds
    budget spent (the trainers then checkpoint, validate and stop)."""
    return it >= cfg["max_iters"] or time.time() >= _STOP_AT


def seconds_left():
    return _STOP_AT - time.time()


def _write(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_atomic(obj, path, slim_drop=()):
    """Checkpoint `obj` to `path`; with HELIO_WEIGHTS_OUT also a weights-only copy
    without the optimizers and the keys in `slim_drop` (what a resume can rebuild)."""
    _write(obj, path)
    # A GPU run sends its checkpoints home through files of at most 16 MiB
    # (models/README.md, "Training on a GPU"): a weights-only copy, without the
    # optimizer moments (twice the weights), beside every checkpoint.
    out = os.environ.get("HELIO_WEIGHTS_OUT")
    if out:
        os.makedirs(out, exist_ok=True)
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem != "last":  # a second file of the run (train_checkerboard's base.pt)
            name += f"-{stem}"
        slim = {k: v for k, v in obj.items() if not k.endswith("opt") and k not in slim_drop}
        dst = os.path.join(out, f"{name}.pt")
        _write(slim, dst)
        if os.path.getsize(dst) > 16 * 2 ** 20:
            print(f"warning: {dst} is over 16 MiB: the device tool will not send it back", flush=True)


def load_optimizers(ck, *pairs):
    """Load each (optimizer, key) pair's state from checkpoint `ck` where it has
    one; a weights-only checkpoint (a GPU run's, save_atomic) restarts Adam."""
    missing = [k for _, k in pairs if k not in ck]
    for opt, key in pairs:
        if key in ck:
            opt.load_state_dict(ck[key])
    if missing:
        print(f"checkpoint has no {', '.join(missing)} (weights only): Adam restarts", flush=True)


def config_path(cfg):
    """The config file a checkpoint's `cfg` came from, for the commands model
    cards print: the one recorded by start_run, else the file in models/configs
    whose "name" is cfg's (a config's name need not be its file name:
    gpu-intra.json trains hyperprior-gpu)."""
    if cfg.get("_config"):
        return cfg["_config"]
    for f in sorted(glob.glob("models/configs/*.json")):
        try:
            if json.load(open(f)).get("name") == cfg["name"]:
                return f
        except (OSError, ValueError):
            pass
    return f"models/configs/{cfg['name']}.json"


def start_run(defaults):
    """--config on the command line over `defaults`; threads, device, seed;
    returns (cfg, device, checkpoint path, run dir), shared by every trainer."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    # Override without editing the config: 1 thread while builds share 2 cores.
    ap.add_argument("--threads", type=int)
    # Wall-clock budget of this invocation (a GPU lease): checkpoint and stop
    # when it is spent; the next invocation resumes.
    ap.add_argument("--max-seconds", type=float)
    args = ap.parse_args()
    global _STOP_AT
    if args.max_seconds:
        _STOP_AT = time.time() + args.max_seconds
    cfg = dict(defaults, **json.load(open(args.config)))
    cfg["_config"] = os.path.relpath(args.config)
    if args.threads:
        cfg["threads"] = args.threads
    torch.set_num_threads(cfg["threads"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        # GPU-only settings: bigger batches and crops (the 2-core CPU keeps the
        # config's), TF32 convolutions.
        cfg.update(cfg.get("cuda", {}))
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print(f"device cuda: {torch.cuda.get_device_name(0)}, batch {cfg.get('batch')} x "
              f"{cfg.get('crop')}^2", flush=True)
    torch.manual_seed(cfg["seed"])
    ckdir = os.path.join("models/checkpoints", cfg["name"])
    rundir = os.path.join("models/runs", cfg["name"])
    os.makedirs(ckdir, exist_ok=True)
    os.makedirs(rundir, exist_ok=True)
    return cfg, device, os.path.join(ckdir, "last.pt"), rundir


def main():
    cfg, device, ckpath, rundir = start_run(DEFAULTS)

    model = GainedMeanScaleHyperprior(cfg["N"], cfg["M"], cfg["lambdas"]).to(device)
    opt = torch.optim.Adam([
        {"params": model.main_parameters(), "lr": cfg["lr"]},
        # Gains get a larger step: they are few and must move far (the rate
        # spread across qualities is set mostly by them).
        {"params": model.gain_parameters(), "lr": cfg["gain_lr"]},
    ])
    aux_opt = torch.optim.Adam(model.aux_parameters(), lr=cfg["aux_lr"])

    it, wall, seed = 0, 0.0, cfg["seed"]
    if os.path.exists(ckpath):
        ck = torch.load(ckpath, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        load_optimizers(ck, (opt, "opt"), (aux_opt, "aux_opt"))
        it, wall = ck["iter"], ck["wall_s"]
        # The config, not the checkpoint, sets the learning rates.
        opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = cfg["lr"], cfg["gain_lr"]
        aux_opt.param_groups[0]["lr"] = cfg["aux_lr"]
        old = ck["config"]["lambdas"]
        if list(old) != list(cfg["lambdas"]):
            # Lambdas changed in the config: keep training, but give each new
            # level the gains of the nearest old level (in log lambda), moved
            # by sqrt(lambda_new/lambda_old) (the high-rate step-size rule
            # used for their init), so every level starts near its new rate
            # point instead of crawling there at gain_lr.
            assert len(old) == len(cfg["lambdas"]), "number of qualities changed"
            lo, ln = torch.tensor(old).log(), torch.tensor(cfg["lambdas"]).log()
            src = (ln[:, None] - lo[None, :]).abs().argmin(1)
            d = (0.5 * (ln - lo[src])).to(device)[:, None]
            with torch.no_grad():
                model.log_gain.copy_(model.log_gain[src] + d)
                model.log_inv_gain.copy_(model.log_inv_gain[src] - d)
            # Adam moments of the gains belong to the old levels: drop them.
            for p in model.gain_parameters():
                opt.state.pop(p, None)
            print(f"lambdas {old} -> {cfg['lambdas']}: gains from old levels "
                  f"{[int(i) + 1 for i in src]}, rescaled", flush=True)
        seed = cfg["seed"] + it  # fresh crops after a resume
        print(f"resumed from {ckpath} at iter {it} ({wall:.0f} s)", flush=True)
    elif cfg["init_package"]:
        from models.package import load_hyperprior
        pkg, mj = load_hyperprior(cfg["init_package"])
        assert [q["lambda"] for q in mj["qualities"]] == list(cfg["lambdas"]), "lambdas differ from the package's"
        model.load_state_dict(pkg.state_dict())
        # Checkpoints stay on the machine that trained: on a fresh clone z re-learns.
        z_from = cfg["init_z"] if cfg["init_z"] and os.path.exists(cfg["init_z"]) else None
        if z_from:
            model.entropy_bottleneck.load_state_dict(
                torch.load(z_from, map_location=device, weights_only=False)["z"])
        print(f"new run from package {cfg['init_package']}, z density " +
              (f"from {z_from}" if z_from else "re-learned from its initialisation"), flush=True)
    json.dump(cfg, open(os.path.join(rundir, "config.json"), "w"), indent=1)

    src = cfg.get("pack") if cfg.get("pack") and os.path.exists(cfg["pack"]) else cfg["data"]
    batches = batch_stream(load_train_frames(src), cfg["crop"], cfg["batch"], seed, cfg["workers"])
    val = load_val_frames(cfg["data"], cfg["val_frames"])
    Q = model.num_qualities
    if it == 0 and cfg["init_package"]:
        # The start, for the run to be measured against.
        v = validate(model, val, device)
        print("init_package on validation: " + " ".join(f"q{q + 1} {b:.4f}/{p:.2f}" for q, (b, p) in enumerate(v)),
              flush=True)
    rng = np.random.default_rng(seed + 1)

    logf, log = open_log(rundir, ["iter", "wall_s", "it_per_s", "loss", "bpp", "psnr", "aux"]
                         + [f"val_bpp_q{q + 1}" for q in range(Q)]
                         + [f"val_psnr_q{q + 1}" for q in range(Q)])

    acc = dict(n=0, loss=0.0, bpp=0.0, psnr=0.0, aux=0.0)
    wall0, t_start, t_ck, it_ck = wall, time.time(), time.time(), it
    t_val = t_start
    model.train()
    while it < cfg["max_iters"]:
        q = int(rng.integers(Q))
        x = next(batches).to(device, non_blocking=True)
        r = model(x, q)
        npix = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = bpp_of(r["likelihoods"], npix)
        mse = F.mse_loss(r["x_hat"], x)
        loss = cfg["lambdas"][q] * 255 ** 2 * mse + bpp
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        opt.step()
        aux = model.aux_loss()
        aux_opt.zero_grad()
        aux.backward()
        aux_opt.step()
        it += 1
        last = at_end(cfg, it)
        decay_late(cfg, opt)

        acc["n"] += 1
        acc["loss"] += loss.item()
        acc["bpp"] += bpp.item()
        acc["psnr"] += 10 * math.log10(1 / max(mse.item(), 1e-10))
        acc["aux"] += aux.item()

        now = time.time()
        if now - t_ck >= cfg["ckpt_every_s"] or last:
            ips = (it - it_ck) / (now - t_ck)
            wall = wall0 + (now - t_start)
            save_atomic({"model": model.state_dict(), "opt": opt.state_dict(),
                         "aux_opt": aux_opt.state_dict(), "iter": it, "wall_s": wall,
                         "config": cfg, "device": device}, ckpath)
            do_val = now - t_val >= cfg["val_every_s"] or last
            if not do_val:
                print(f"iter {it} wall {wall:.0f}s {ips:.2f} it/s (checkpoint)", flush=True)
                t_ck, it_ck = time.time(), it
                continue
            t_val = now
            v = validate(model, val, device)
            n = acc["n"]
            row = [it, round(wall, 1), round(ips, 3), acc["loss"] / n, acc["bpp"] / n,
                   acc["psnr"] / n, acc["aux"] / n] + [b for b, _ in v] + [p for _, p in v]
            log.writerow([f"{c:.5g}" if isinstance(c, float) else c for c in row])
            logf.flush()
            print(f"iter {it} wall {wall:.0f}s {ips:.2f} it/s loss {acc['loss'] / n:.4f} "
                  f"bpp {acc['bpp'] / n:.4f} psnr {acc['psnr'] / n:.2f} aux {acc['aux'] / n:.1f} | val "
                  + " ".join(f"q{q + 1} {b:.3f}bpp/{p:.2f}dB" for q, (b, p) in enumerate(v)),
                  flush=True)
            acc = dict(n=0, loss=0.0, bpp=0.0, psnr=0.0, aux=0.0)
            t_ck, it_ck = time.time(), it  # it/s excludes validation; wall_s includes it
            if last:
                break


if __name__ == "__main__":
    main()
