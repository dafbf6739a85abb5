"""Train the scale-space-flow P-frame model against the frozen intra model.

    python -m models.train_ssf --config models/configs/ssf.json

Runs unchanged on CPU or CUDA; re-running resumes from
models/checkpoints/<name>/last.pt. Without a checkpoint and without
`intra_ckpt` (checkpoints stay on the machine that trained), it starts from the
shipped packages `intra_package` and `init_package`. On a fresh start the intra model is
copied from `intra_ckpt` into the checkpoint (so later intra training does not
move the P model's target under it), and the residual autoencoder starts from
the intra weights: coding x - pred is still transform coding of a solar-like
image, and it saves thousands of CPU iterations.

One step: draw a quality q and a batch of T-frame clips; frame 0 is coded by
the intra model (no gradient), frames 1..T-1 by the P model, each predicted
from the previous reconstruction (detached), as in a GoP. Loss per P-frame as
the paper's eq. 10: lambda[q] * 255^2 * MSE + bpp(motion) + bpp(residual),
averaged over the P-frames.

Validation: held-out AIA 171 frames 0..3 (raw DN, alternating exposures):
I-frame 0 then P-frames 1..3 with hard rounding, per quality: mean P-frame bpp
(ideal code length) and PSNR, beside the I-frame's.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from models.clips import ClipSampler, load_val_clip
from models.hyperprior import GainedMeanScaleHyperprior
from models.ssf import ScaleSpaceFlow, apply_gain, reference_gain
from models.synthesis import NarrowSynthesis
from models.train import at_end, bpp_of, load_optimizers, open_log, pad_to, save_atomic, start_run

DEFAULTS = dict(
    name="ssf", N=64, M_motion=64, M_residual=96, levels=5, sigma0=1.5,
    intra_ckpt="models/checkpoints/hyperprior/last.pt",
    # Without a checkpoint or intra_ckpt (a new machine): start from the shipped
    # packages instead (models/package.py), the intra one frozen as usual.
    intra_package="models/hyperprior", init_package="models/ssf",
    synth_dir="models/pack/synth-clips", T=3, crop=128, batch=8, p_synth=0.5,
    lr=1e-4, gain_lr=1e-3, aux_lr=1e-3, clip=1.0, max_iters=2_000_000,
    ckpt_every_s=180, val_every_s=600, val_start=0, val_len=4,
    data="/work/shared/data", seed=0, threads=2, notes=[],
    # Warm-up: also penalise the prediction error, weighted like the
    # distortion term, until `pred_until` iterations (DVC-style staging).
    # Through the residual coder alone the motion path only feels the
    # residual's rate, a weak signal early on.
    pred_weight=0.0, pred_until=0,
    global_gain=True,  # encoder-side global reference gain (models/ssf.py: reference_gain)
    p_xwl=0.0,  # share of wavelength pairs (models/clips.py), for X-frames
    # Train only the entropy models (h_s, z bottlenecks) of motion and residual on
    # frozen transforms, the distortion reaching the means (as for the intra
    # checkerboard package, where this alone gave -54 %).
    freeze_transforms=False,
    # Motion decoder output resolution (models/ssf.py: ScaleSpaceFlow flow_stride).
    flow_stride=1,
    # Train only the parameters whose names start with one of these (None: all).
    train_only=None,
    # Until this iteration the loss is 255^2 * MSE(pred, teacher pred), the teacher
    # being `init_package`'s P model on the same motion latent: a new motion
    # decoder first learns the shipped one's predictions, without the residual
    # coder's cost, then trains on the rate-distortion loss.
    distill_until=0,
    # Until this iteration only the z bottlenecks' densities train (the rest
    # frozen, same loss): a start whose densities are poor (re-learned in a
    # run that never used them) would otherwise let the z rate steer every
    # network (configs/ssf-whole-live.json's notes).
    z_warmup=0,
    # Residual decoder narrowed at 1/2 resolution to this many channels
    # (models/synthesis.py; 0: full width). A new run starts it from
    # init_package's r_g_s (NarrowSynthesis.init_from).
    residual_half=0,
    # A new run sets the motion decoder's scale-channel bias to this (None: keep).
    # Every shipped P model has that channel's weights and bias at exactly 0: it
    # starts there and grid_sample's border clamp passes no gradient at scale 0,
    # so the scale field never trains. A positive start lets it learn to blur.
    scale_bias=None,
    # A new run may start from other runs' checkpoints instead: a list of
    # [path, [name prefixes]] applied in order (all names when the list is
    # empty), model weights only (fresh Adam state). The first one also
    # gives the frozen intra model. Used to join a run's trained motion
    # decoder with the P model it was trained against, densities included.
    # Its validation is then measured with those checkpoints' z densities, which
    # a package may not use (export_ssf --z-from): judge such a run by its
    # export's GoP table against the package it would replace.
    init_ckpt=[],
)


def load_intra(state, cfg_intra, device):
    m = GainedMeanScaleHyperprior(cfg_intra["N"], cfg_intra["M"], cfg_intra["lambdas"]).to(device)
    m.load_state_dict(state)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def warm_state(model, warm):
    """`warm`'s weights for every parameter of `model` with the same name and shape
    (a new motion decoder head keeps its initialisation)."""
    own = model.state_dict()
    state = {k: v for k, v in warm.state_dict().items() if k in own and own[k].shape == v.shape}
    own.update(state)
    return own, sorted(set(own) - set(state))


@torch.no_grad()
def residual_input(model, x, ref, q):
    """The residual decoder's input, y_hat * inv_gain, as the codec decodes it."""
    ref = apply_gain(ref, reference_gain(x, ref))
    yi = model.motion.decoder_input(torch.cat([x, ref], 1), q)
    pred = model.predict(ref, model.upsample_flow(model.motion.g_s(yi)))
    return model.residual.decoder_input(x - pred, q)


def distill_step(model, teacher, x, ref, q):
    """Prediction of the new motion decoder against the teacher's, same latent."""
    ref = apply_gain(ref, reference_gain(x, ref))
    yi = model.motion.decoder_input(torch.cat([x, ref], 1), q)
    with torch.no_grad():
        want = teacher.predict(ref, teacher.upsample_flow(teacher.motion.g_s(yi)))
    pred = model.predict(ref, model.upsample_flow(model.motion.g_s(yi)))
    return F.mse_loss(pred, want), F.mse_loss(pred, x).detach()


def p_step(model, x, ref, q):
    """One P-frame: global gain (as the encoder computes it), then the networks."""
    if model.use_gain:
        ref = apply_gain(ref, reference_gain(x, ref))
    r = model(x, ref, q)
    npix = x.shape[0] * x.shape[2] * x.shape[3]
    return r, bpp_of(r["likelihoods"], npix), F.mse_loss(r["x_hat"], x)


def val_line(v):
    """validate's result as printed: per quality, I-frame then P-frame bpp/PSNR."""
    return " ".join(f"q{q + 1} {ib:.3f}/{ip:.2f} {pb:.3f}/{pp:.2f}" for q, (ib, ip, pb, pp) in enumerate(v))


@torch.no_grad()
def validate(model, intra, clip, device):
    model.eval()
    out = []
    for q in range(model.num_qualities):
        xs = [pad_to(torch.from_numpy(t)[None, None].to(device)) for t in clip]
        H, W = clip[0].shape
        npix = H * W
        ri = intra(xs[0], q)
        ref = ri["x_hat"].clamp(0, 1)
        i_bpp = bpp_of(ri["likelihoods"], npix).item()
        i_psnr = 10 * math.log10(1 / F.mse_loss(ref[..., :H, :W], xs[0][..., :H, :W]).item())
        bpps, psnrs = [], []
        for x in xs[1:]:
            # The gain is fitted on the unpadded frame, as codec-core does.
            g = reference_gain(x[..., :H, :W], ref[..., :H, :W]) if model.use_gain else 1.0
            r = model(x, apply_gain(ref, g) if model.use_gain else ref, q)
            ref = r["x_hat"].clamp(0, 1)
            # Like the codec: the next reference is what the decoder outputs
            # (cropped to the frame, then padded again by replication).
            ref = pad_to(ref[..., :H, :W])
            bpps.append(bpp_of(r["likelihoods"], npix).item())
            psnrs.append(10 * math.log10(1 / F.mse_loss(ref[..., :H, :W], x[..., :H, :W]).item()))
        out.append((i_bpp, i_psnr, float(np.mean(bpps)), float(np.mean(psnrs))))
    model.train()
    return out


def main():
    cfg, device, ckpath, rundir = start_run(DEFAULTS)

    it, wall, seed = 0, 0.0, cfg["seed"]
    warm = None
    # The frozen intra model's origin: a package's can be left out of weights-only
    # copies (save_atomic slim_drop) and rebuilt on resume.
    intra_source = "checkpoint"
    if os.path.exists(ckpath):
        ck = torch.load(ckpath, map_location=device, weights_only=False)
        intra_source = ck.get("intra_source", "checkpoint")
        if "intra" in ck:
            intra_state, intra_cfg = ck["intra"], ck["intra_config"]
        else:
            # A weights-only copy (a GPU run's) leaves the frozen intra model out:
            # it is the intra package's, as at the run's start.
            from models.package import load_hyperprior
            intra_state = load_hyperprior(cfg["intra_package"])[0].state_dict()
            intra_cfg = ck["intra_config"]
            print(f"{ckpath} has no intra model: {cfg['intra_package']}'s", flush=True)
    elif cfg["init_ckpt"]:
        inits = [(path, torch.load(path, map_location=device, weights_only=False), prefixes)
                 for path, prefixes in cfg["init_ckpt"]]
        intra_state, intra_cfg = inits[0][1]["intra"], inits[0][1]["intra_config"]
        ck = None
    elif os.path.exists(cfg["intra_ckpt"]):
        ik = torch.load(cfg["intra_ckpt"], map_location=device, weights_only=False)
        intra_state, intra_cfg = ik["model"], ik["config"]
        ck = None
    else:
        from models.package import load_hyperprior, load_ssf
        intra_model, imj = load_hyperprior(cfg["intra_package"])
        intra_state = intra_model.state_dict()
        intra_cfg = {"N": imj["N"], "M": imj["M"], "lambdas": [q["lambda"] for q in imj["qualities"]]}
        intra_source = "package"
        warm, _ = load_ssf(cfg["init_package"], cfg["levels"], cfg["sigma0"])
        ck = None
    intra = load_intra(intra_state, intra_cfg, device)
    lambdas = intra_cfg["lambdas"]
    model = ScaleSpaceFlow(lambdas, cfg["N"], cfg["M_motion"], cfg["M_residual"],
                           cfg["levels"], cfg["sigma0"], cfg["flow_stride"]).to(device)
    model.use_gain = cfg["global_gain"]
    if cfg["residual_half"]:
        model.residual.g_s = NarrowSynthesis(cfg["N"], cfg["M_residual"], cfg["residual_half"]).to(device)
    teacher = None
    if cfg["distill_until"] > 0:
        from models.package import load_ssf
        teacher, _ = load_ssf(cfg["init_package"], cfg["levels"], cfg["sigma0"])
        teacher.to(device).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    if warm is not None:
        state, fresh = warm_state(model, warm)
        model.load_state_dict(state)
        if fresh:
            print(f"not in {cfg['init_package']} (initialised): {', '.join(fresh)}", flush=True)
        print(f"new run: warm start from packages {cfg['intra_package']} (intra, frozen) and "
              f"{cfg['init_package']} (P networks; Adam state and z density re-learned)", flush=True)
    elif ck is None and cfg["init_ckpt"]:
        state = model.state_dict()
        for path, ik, prefixes in inits:
            got = {k: v for k, v in ik["model"].items() if not prefixes or k.startswith(tuple(prefixes))}
            state.update(got)
            print(f"new run: {len(got)} tensors from {path} (iter {ik['iter']})", flush=True)
        model.load_state_dict(state)
        del inits
    elif ck is None:
        model.residual.load_state_dict(intra_state)
        print(f"new run: intra model and residual init from {cfg['intra_ckpt']}", flush=True)

    if cfg["train_only"]:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(tuple(cfg["train_only"])))
    if cfg["freeze_transforms"]:
        for name, p in model.named_parameters():
            p.requires_grad_("h_s" in name or "entropy_bottleneck" in name)
        model.motion.means_grad = model.residual.means_grad = True
    trainable = lambda ps: [p for p in ps if p.requires_grad]
    opt = torch.optim.Adam([
        {"params": trainable(model.main_parameters()), "lr": cfg["lr"]},
        {"params": trainable(model.gain_parameters()), "lr": cfg["gain_lr"]},
    ])
    aux_opt = torch.optim.Adam(trainable(model.aux_parameters()) or [torch.zeros(1, requires_grad=True)],
                               lr=cfg["aux_lr"])
    if ck is not None:
        model.load_state_dict(ck["model"])
        load_optimizers(ck, (opt, "opt"), (aux_opt, "aux_opt"))
        it, wall = ck["iter"], ck["wall_s"]
        # What a new run recorded about its start, kept across resumes (the config is re-read).
        if "init_validation" in ck["config"]:
            cfg["init_validation"] = ck["config"]["init_validation"]
        cfg["notes"] = [n for n in ck["config"]["notes"] if n.startswith("init:")] + cfg["notes"]
        opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = cfg["lr"], cfg["gain_lr"]
        aux_opt.param_groups[0]["lr"] = cfg["aux_lr"]
        seed = cfg["seed"] + it
        print(f"resumed from {ckpath} at iter {it} ({wall:.0f} s)", flush=True)
    json.dump(cfg, open(os.path.join(rundir, "config.json"), "w"), indent=1)

    sampler = ClipSampler(cfg["synth_dir"], cfg["T"], cfg["crop"], seed=seed,
                          p_synth=cfg["p_synth"], data_dir=cfg["data"],
                          p_xwl=cfg["p_xwl"])
    val = load_val_clip(cfg["data"], cfg["val_start"], cfg["val_len"])
    Q = model.num_qualities
    rng = np.random.default_rng(seed + 1)
    start = None  # what a new run is measured against, on the same validation
    if warm is not None and (cfg["residual_half"] or cfg["scale_bias"] is not None):
        warm.to(device).eval()
        warm.use_gain = cfg["global_gain"]
        start, label = warm, cfg["init_package"]
    elif ck is None and cfg["init_ckpt"]:
        start, label = model, "init_ckpt"
    if start is not None:
        v = validate(start, intra, val, device)
        print(f"{label} on validation, I/P: " + val_line(v), flush=True)
        # Kept for the model card (export_synthesis's: the decoder it replaces).
        cfg["init_validation"] = v
    if warm is not None and cfg["scale_bias"] is not None:
        with torch.no_grad():
            model.motion.g_s[-1].bias[2] = cfg["scale_bias"]
        cfg["notes"] = [f"init: motion scale bias {cfg['scale_bias']}"] + cfg["notes"]
        print(cfg["notes"][0], flush=True)
    if warm is not None and cfg["residual_half"]:
        clip = torch.from_numpy(sampler.batch(cfg["batch"])).to(device)
        with torch.no_grad():
            ref = intra(clip[0], Q - 1)["x_hat"].clamp(0, 1)
        keep = model.residual.g_s.init_from(warm.residual.g_s, residual_input(warm, clip[1], ref, Q - 1))
        cfg["notes"] = [f"init: r_g_s layers 0-3 of {cfg['init_package']}, "
                        f"1/2-resolution channels {keep.tolist()}"] + cfg["notes"]
        print(cfg["notes"][0], flush=True)

    logf, log = open_log(rundir, ["iter", "wall_s", "it_per_s", "loss", "bpp", "psnr", "pred_psnr", "aux"]
                         + [f"val_{k}_q{q + 1}" for q in range(Q)
                            for k in ("i_bpp", "i_psnr", "p_bpp", "p_psnr")])

    def save():
        save_atomic({"model": model.state_dict(), "opt": opt.state_dict(),
                     "aux_opt": aux_opt.state_dict(), "iter": it, "wall_s": wall,
                     "config": cfg, "device": device, "intra": intra_state,
                     "intra_config": intra_cfg, "intra_source": intra_source}, ckpath,
                    slim_drop=("intra",) if intra_source == "package" else ())

    acc = dict(n=0, loss=0.0, bpp=0.0, psnr=0.0, pred=0.0, aux=0.0)
    wall0, t_start, t_ck, it_ck, t_val = wall, time.time(), time.time(), it, time.time()
    model.train()
    trains = {n: p.requires_grad for n, p in model.named_parameters()}
    z_only = False
    while it < cfg["max_iters"]:
        if z_only != (it < cfg["z_warmup"]):
            z_only = not z_only
            for n, p in model.named_parameters():
                p.requires_grad_(trains[n] and (not z_only or "entropy_bottleneck" in n))
            print(f"iter {it}: " + ("only the z densities train" if z_only else "every trainable network trains"),
                  flush=True)
        q = int(rng.integers(Q))
        clip = torch.from_numpy(sampler.batch(cfg["batch"])).to(device)
        with torch.no_grad():
            ref = intra(clip[0], q)["x_hat"].clamp(0, 1)
        loss, bpp_sum, psnr_sum, pred_sum = 0.0, 0.0, 0.0, 0.0
        for k in range(1, clip.shape[0]):
            if it < cfg["distill_until"]:
                # bpp column: none coded; psnr: prediction against the teacher's.
                dmse, pmse = distill_step(model, teacher, clip[k], ref, q)
                loss = loss + 255 ** 2 * dmse
                psnr_sum += 10 * math.log10(1 / max(dmse.item(), 1e-10))
                pred_sum += 10 * math.log10(1 / max(pmse.item(), 1e-10))
                ref = clip[k]
                continue
            r, bpp, mse = p_step(model, clip[k], ref, q)
            loss = loss + lambdas[q] * 255 ** 2 * mse + bpp
            if it < cfg["pred_until"] and cfg["pred_weight"] > 0:
                loss = loss + cfg["pred_weight"] * lambdas[q] * 255 ** 2 * F.mse_loss(r["pred"], clip[k])
            ref = r["x_hat"].detach().clamp(0, 1)
            bpp_sum += bpp.item()
            psnr_sum += 10 * math.log10(1 / max(mse.item(), 1e-10))
            pred_sum += 10 * math.log10(1 / max(F.mse_loss(r["pred"], clip[k]).item(), 1e-10))
        nP = clip.shape[0] - 1
        loss = loss / nP
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        opt.step()
        aux = model.aux_loss()
        if aux.requires_grad:
            aux_opt.zero_grad()
            aux.backward()
            aux_opt.step()
        it += 1
        last = at_end(cfg, it)

        acc["n"] += 1
        acc["loss"] += loss.item()
        acc["bpp"] += bpp_sum / nP
        acc["psnr"] += psnr_sum / nP
        acc["pred"] += pred_sum / nP
        acc["aux"] += aux.item()

        now = time.time()
        if now - t_ck >= cfg["ckpt_every_s"] or last:
            ips = (it - it_ck) / (now - t_ck)
            wall = wall0 + (now - t_start)
            save()
            n = acc["n"]
            msg = (f"iter {it} wall {wall:.0f}s {ips:.2f} it/s loss {acc['loss'] / n:.4f} "
                   f"bpp {acc['bpp'] / n:.4f} psnr {acc['psnr'] / n:.2f} pred {acc['pred'] / n:.2f} "
                   f"aux {acc['aux'] / n:.1f}")
            row = [it, round(wall, 1), round(ips, 3), acc["loss"] / n, acc["bpp"] / n,
                   acc["psnr"] / n, acc["pred"] / n, acc["aux"] / n]
            if now - t_val >= cfg["val_every_s"] or last:
                t_val = now
                v = validate(model, intra, val, device)
                row += [c for quad in v for c in quad]
                msg += " | val I/P " + val_line(v)
            log.writerow([f"{c:.5g}" if isinstance(c, float) else c for c in row])
            logf.flush()
            print(msg, flush=True)
            acc = dict(n=0, loss=0.0, bpp=0.0, psnr=0.0, pred=0.0, aux=0.0)
            t_ck, it_ck = time.time(), it
            if last:
                break


if __name__ == "__main__":
    main()
