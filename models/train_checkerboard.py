"""Train the channel-group / checkerboard entropy model (models/checkerboard.py)
on the frozen transforms of the shipped hyperprior package, with its ablation.

    python -m models.train_checkerboard --config models/configs/checkerboard.json

Three entropy models learn side by side on the same batches, from the same
start (the package's h_s), for rate + lambda * latent-error distortion: "hyperprior" (h_s retrained: the
baseline under identical conditions), "groups" (+ channel context),
"checkerboard" (+ local checkerboard context), optionally "checkerboard+global"
(+ the masked-attention global context). They share
g_a, h_a, the gains and the z bottleneck (z does not depend on them), so the
comparison isolates the entropy model and costs one g_a pass per batch.
Resumes from models/checkpoints/<name>/last.pt like the other trainers. A new
run can start from another run's heads instead of the package's h_s: config
"init" = {"ckpt": path, "from": {variant: variant of that checkpoint}} (layers
the source lacks, such as the global context, keep their initialisation), or
from a shipped package's heads: "init" = {"package": dir} (models/package.py
load_heads; every variant must be the package's).

Validation: held-out AIA 171 frames, each quality, bpp of y per variant
(-log2 likelihood, hard rounding) + the shared z bpp, PSNR of g_s(y_hat) per
variant (the means move y_hat slightly).
"""

import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from models.checkerboard import CheckerboardGroups, init_heads, param_groups, set_lrs
from models.data import CropSampler, batch_stream, load_train_frames, load_val_frames
from models.package import fit_z_density, load_h_s, load_heads, load_hyperprior, verify_heads
from models.train import (at_end, config_path, decay_late, load_optimizers, open_log, pad_to, save_atomic,
                          start_run)

VARIANTS = ("hyperprior", "groups", "checkerboard")

DEFAULTS = dict(
    name="checkerboard", package="models/hyperprior", crop=128, batch=8,
    lr=1e-4, aux_lr=1e-3, clip=1.0, max_iters=2_000_000, ckpt_every_s=180,
    # Add lambda * 255^2 * (latent-error pixel MSE, see distortion_weights):
    # rate alone lets the means pull latents into the zero bin at low rates.
    distortion=True,
    val_every_s=900, val_frames=[0, 1, 4, 12], data="/work/shared/data",
    pack="models/pack/train.npz", seed=0, threads=1, variants=list(VARIANTS), notes=[], init=None,
    gc_lr=None,  # learning rate of the global context (checkerboard.param_groups); None: lr
    # A models.train checkpoint whose transforms, gains and z replace the
    # package's (heads for transforms trained on a GPU). To export: models.export
    # of that checkpoint, then export_checkerboard --package <its folder>.
    base_ckpt=None,
    # The transforms (g_a, h_a, g_s, gains) train too, with the heads of the one
    # variant, on the pixel loss as in models.train: the paper trains all of it
    # together, and transforms trained under a plain hyperprior are not the ones
    # the context model wants. Beside last.pt each checkpoint writes base.pt, the
    # transforms as a models.train checkpoint: models.export makes the base
    # package of it, export_checkerboard --package the package.
    joint=False,
    workers=0, cuda={}, decay_last_s=0, decay_factor=0.3,  # as in models/train.py
)


def build(cfg, device):
    base, mj = load_hyperprior(cfg["package"])
    if cfg["base_ckpt"]:
        # Transforms trained since the package (a GPU run's models.train
        # checkpoint): same architecture, the package gives the shapes.
        base.load_state_dict(torch.load(cfg["base_ckpt"], map_location="cpu", weights_only=False)["model"])
    for n, p in base.named_parameters():
        # The z bottleneck is trained (packages do not hold its density model);
        # the base's own h_s never is (each head has its own).
        # (cfg.get: exports pass configs of checkpoints older than the option.)
        p.requires_grad_(n.startswith("entropy_bottleneck.") or (bool(cfg.get("joint")) and not n.startswith("h_s.")))
    assert not cfg.get("joint") or len(cfg["variants"]) == 1, "joint training takes one variant"
    heads = torch.nn.ModuleDict()
    for v in cfg["variants"]:
        h = CheckerboardGroups(mj["N"], mj["M"], variant=v)
        if cfg["base_ckpt"]:
            h.h_s.load_state_dict(base.h_s.state_dict())
        else:
            load_h_s(h.h_s, cfg["package"])
        heads[v] = h
    return base.to(device), heads.to(device)


@torch.no_grad()
def distortion_weights(base, x, q=3, eps=0.05):
    """Pixel MSE per unit of latent error variance, per channel of g_s's input
    (y_hat after inv_gain), by perturbing one channel at a time around real
    latents: MSE(g_s(y + eps*n_c)) - MSE(g_s(y)) ~ w_c eps^2. The frozen g_s
    is about linear at this scale, so sum_c w_c mean(e_c^2) is the pixel MSE
    that latent errors e cost, without running g_s in every step."""
    ig = base.inv_gain(q)[None, :, None, None]
    y = torch.round(base.g_a(x) * base.gain(q)[None, :, None, None]) * ig
    ref = base.g_s(y)
    g = torch.Generator().manual_seed(0)
    w = torch.zeros(y.shape[1])
    for c in range(y.shape[1]):
        d = torch.zeros_like(y)
        d[:, c] = eps * torch.randn(y[:, c].shape, generator=g)
        w[c] = F.mse_loss(base.g_s(y + d), ref) / eps ** 2
    return w


def rates(base, heads, x, q, npix, joint=False):
    """(z bits, {variant: (y bits, y_hat)}, yg) for a batch at quality q;
    joint: with gradients to the transforms too."""
    with torch.set_grad_enabled(joint and torch.is_grad_enabled()):
        yg = base.g_a(x) * base.gain(q)[None, :, None, None]
        z = base.h_a(yg)
    z_hat, z_lik = base.entropy_bottleneck(z)
    bz = -torch.log2(z_lik).sum() / npix
    out = {}
    for v, h in heads.items():
        lik, y_hat = h(yg, z_hat, ste=joint)
        out[v] = (-torch.log2(lik).sum() / npix, y_hat)
    return bz, out, yg


@torch.no_grad()
def validate(base, heads, val, device):
    base.eval()
    heads.eval()
    res = {v: [] for v in heads}
    Q = base.num_qualities
    for q in range(Q):
        acc = {v: ([], []) for v in heads}
        for _, t in val:
            x = torch.from_numpy(t)[None, None].to(device)
            H, W = x.shape[-2:]
            bz, out, _ = rates(base, heads, pad_to(x), q, H * W)
            for v, (by, y_hat) in out.items():
                x_hat = base.g_s(y_hat * base.inv_gain(q)[None, :, None, None])[..., :H, :W].clamp(0, 1)
                acc[v][0].append((bz + by).item())
                acc[v][1].append(10 * math.log10(1 / F.mse_loss(x_hat, x).item()))
        for v in heads:
            res[v].append((float(np.mean(acc[v][0])), float(np.mean(acc[v][1]))))
    base.train()
    heads.train()
    return res


def base_origin(base, heads, cfg):
    """(config, iterations, wall seconds) the joint run's transforms had before
    it: base_ckpt's, or the package's shapes with this run's settings. Read once
    at start; base_checkpoint adds this run's counts."""
    (head,) = heads.values()
    if not cfg["base_ckpt"]:
        return dict(cfg, N=head.N, M=head.M, lambdas=list(base.lambdas), gain_lr=cfg["lr"]), 0, 0.0
    bk = torch.load(cfg["base_ckpt"], map_location="cpu", weights_only=False)
    return dict(bk["config"], _config=config_path(bk["config"])), bk["iter"], bk["wall_s"]


def base_checkpoint(base, heads, cfg, origin, it, wall, device):
    """A joint run's transforms as a models.train checkpoint, for models.export:
    `origin` (base_origin) plus this run's counts, h_s the head's (trained with
    its contexts, so the base package alone codes worse than a hyperprior
    trained alone would)."""
    (head,) = heads.values()
    state = {k: v for k, v in base.state_dict().items() if not k.startswith("h_s.")}
    state.update({"h_s." + k: v for k, v in head.h_s.state_dict().items()})
    b_cfg, b_it, b_wall = origin
    b_cfg = dict(b_cfg, notes=list(b_cfg.get("notes") or []) + [
        f"then {it:,} iterations ({wall / 3600:.2f} h) trained jointly with the {next(iter(heads))} entropy model "
        f"(`python -m models.train_checkerboard --config {config_path(cfg)}`, {cfg['batch']} x {cfg['crop']}^2 "
        f"crops, lr {cfg['lr']}): transforms, gains and heads on the pixel loss; h_s here is the head's"])
    return {"model": state, "iter": b_it + it, "wall_s": b_wall + wall, "config": b_cfg, "device": device}


def main():
    cfg, device, ckpath, rundir = start_run(DEFAULTS)
    base, heads = build(cfg, device)
    named = [(n, p) for n, p in heads.named_parameters() if not n.endswith(".quantiles")]
    named += [("base." + n, p) for n, p in base.named_parameters() if p.requires_grad and not n.endswith("quantiles")]
    opt = torch.optim.Adam(param_groups(named, cfg["lr"], cfg["gc_lr"]))
    aux_opt = torch.optim.Adam([base.entropy_bottleneck.quantiles], lr=cfg["aux_lr"])
    origin = base_origin(base, heads, cfg) if cfg["joint"] else None

    it, wall, seed = 0, 0.0, cfg["seed"]
    if os.path.exists(ckpath):
        ck = torch.load(ckpath, map_location=device, weights_only=False)
        heads.load_state_dict(ck["heads"])
        base.entropy_bottleneck.load_state_dict(ck["z"])
        if "base" in ck:
            base.load_state_dict(ck["base"])
        load_optimizers(ck, (opt, "opt"), (aux_opt, "aux_opt"))
        it, wall = ck["iter"], ck["wall_s"]
        set_lrs(opt, cfg["lr"], cfg["gc_lr"])
        seed = cfg["seed"] + it
        print(f"resumed from {ckpath} at iter {it} ({wall:.0f} s)", flush=True)
    elif cfg["init"] and "package" in cfg["init"]:
        # A shipped package's heads (a fresh clone has no checkpoint): every
        # variant from them; z re-learns (packages hold no z density).
        for v, h in heads.items():
            load_heads(h, cfg["init"]["package"])
            d = verify_heads(h, cfg["init"]["package"])
            print(f"{v}: heads from package {cfg['init']['package']} (passes within {d:.2g} of its graphs)", flush=True)
        if cfg["joint"]:
            # h_a trains too: fit the fresh z density to the heads package's
            # z tables first, so the z rate starts where the package codes
            # instead of steering the transforms from a flat density.
            zspec = json.load(open(os.path.join(cfg["init"]["package"], "model.json")))["z"]
            before, after, ent = fit_z_density(base.entropy_bottleneck, zspec)
            print(f"z density fitted to the package's tables: {before:.3f} -> {after:.3f} bits per element "
                  f"(tables' entropy {ent:.3f})", flush=True)
    elif cfg["init"]:
        # Whole heads, h_s included, and the z bottleneck they were trained with.
        ck = init_heads([("", heads)], cfg["init"])
        base.entropy_bottleneck.load_state_dict(ck["z"])
        print(f"heads from {cfg['init']['ckpt']} (iter {ck['iter']}): {cfg['init']['from']}", flush=True)

    src = cfg["pack"] if cfg.get("pack") and os.path.exists(cfg["pack"]) else cfg["data"]
    frames = load_train_frames(src)
    batches = batch_stream(frames, cfg["crop"], cfg["batch"], seed, cfg["workers"])
    dist_w = None
    if cfg["distortion"] and not cfg["joint"]:
        dist_w = distortion_weights(base, torch.from_numpy(CropSampler(
            frames, 256, seed=123).batch(4)).to(device)).to(device)
        print(f"latent distortion weights: {dist_w.min():.3g}..{dist_w.max():.3g} "
              f"(mean {dist_w.mean():.3g}) pixel MSE per unit latent variance", flush=True)
    val = load_val_frames(cfg["data"], cfg["val_frames"])
    Q = base.num_qualities
    rng = np.random.default_rng(seed + 1)

    logf, log = open_log(rundir, ["iter", "wall_s", "it_per_s", "bpp_z"] + [f"bpp_y_{v}" for v in heads]
                         + [f"val_{v}_q{q + 1}_{m}" for v in heads for q in range(Q) for m in ("bpp", "psnr")])

    acc = {"n": 0, "z": 0.0, **{v: 0.0 for v in heads}}
    wall0, t_start, t_ck, it_ck, t_val = wall, time.time(), time.time(), it, time.time()
    base.train()
    heads.train()
    while it < cfg["max_iters"]:
        q = int(rng.integers(Q))
        x = next(batches).to(device, non_blocking=True)
        npix = x.shape[0] * x.shape[2] * x.shape[3]
        bz, out, yg = rates(base, heads, x, q, npix, cfg["joint"])
        loss = bz + sum(by for by, _ in out.values())
        if cfg["joint"]:
            # The real distortion, as in models.train.
            (v, (_, y_hat)), = out.items()
            d = F.mse_loss(base.g_s(y_hat * base.inv_gain(q)[None, :, None, None]), x)
            loss = loss + base.lambdas[q] * 255 ** 2 * d
            acc["d_" + v] = acc.get("d_" + v, 0.0) + d.item()
        elif dist_w is not None:
            # lambda * 255^2 * (pixel MSE of the latent errors), as in the base
            # model's loss: keeps the means from trading quality for bits.
            ig = base.inv_gain(q)[None, :, None, None]
            for v, (_, y_hat) in out.items():
                e2 = (((y_hat - yg) * ig) ** 2).mean(dim=(0, 2, 3))
                d = (dist_w * e2).sum()
                loss = loss + base.lambdas[q] * 255 ** 2 * d
                acc["d_" + v] = acc.get("d_" + v, 0.0) + d.item()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], cfg["clip"])
        opt.step()
        aux = base.entropy_bottleneck.loss()
        aux_opt.zero_grad()
        aux.backward()
        aux_opt.step()
        it += 1
        last = at_end(cfg, it)
        decay_late(cfg, opt)
        acc["n"] += 1
        acc["z"] += bz.item()
        for v, (by, _) in out.items():
            acc[v] += by.item()

        now = time.time()
        if now - t_ck >= cfg["ckpt_every_s"] or last:
            ips = (it - it_ck) / (now - t_ck)
            wall = wall0 + (now - t_start)
            save_atomic({"heads": heads.state_dict(), "z": base.entropy_bottleneck.state_dict(),
                         "opt": opt.state_dict(), "aux_opt": aux_opt.state_dict(), "iter": it,
                         "wall_s": wall, "config": cfg, "device": device,
                         **({"base": base.state_dict()} if cfg["joint"] else {})}, ckpath)
            if cfg["joint"]:
                save_atomic(base_checkpoint(base, heads, cfg, origin, it, wall, device),
                            os.path.join(os.path.dirname(ckpath), "base.pt"))
            n = acc["n"]
            train = f"z {acc['z'] / n:.4f} " + " ".join(f"{v} {acc[v] / n:.4f}" for v in heads)
            if cfg["joint"] or dist_w is not None:
                train += (" | pixel MSE " if cfg["joint"] else " | latent-error MSE ") + " ".join(
                    f"{v} {acc['d_' + v] / n:.3g}" for v in heads)
            if now - t_val < cfg["val_every_s"] and not last:
                print(f"iter {it} wall {wall:.0f}s {ips:.2f} it/s train bpp {train}", flush=True)
                t_ck, it_ck = time.time(), it
                continue
            t_val = now
            res = validate(base, heads, val, device)
            log.writerow([it, round(wall, 1), round(ips, 3), round(acc["z"] / n, 5)]
                         + [round(acc[v] / n, 5) for v in heads]
                         + [round(x, 5) for v in heads for bp in res[v] for x in bp])
            logf.flush()
            print(f"iter {it} wall {wall:.0f}s {ips:.2f} it/s train bpp {train} | val", flush=True)
            for v in heads:
                print(f"  {v:13s} " + " ".join(f"q{q + 1} {b:.4f}/{p:.2f}" for q, (b, p) in enumerate(res[v])),
                      flush=True)
            acc = {"n": 0, "z": 0.0, **{v: 0.0 for v in heads}}
            t_ck, it_ck = time.time(), it
            if last:
                break


if __name__ == "__main__":
    main()
