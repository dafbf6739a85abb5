"""Train channel-group / checkerboard entropy models (models/checkerboard.py)
for the two latents of the SSF P-frame model (motion and residual), on the
frozen networks of the shipped inter package.

    python -m models.train_checkerboard_ssf --config models/configs/ssf-checkerboard.json

The intra version (models/train_checkerboard.py) gave -62 % bits on I-frames;
P-frames (and the X-frames of multispectral streams, same networks) still code
both latents with the plain hyperprior. Same recipe:

- every transform is frozen: the intra package makes the reference, the inter
  package's m_g_a / predict / r_g_a / r_g_s and gains do the rest;
- the z latents are coded with the package's own z tables (fixed): z does not
  depend on anything trained here, so it costs the same for every variant, and
  the package keeps its z section (the previous entropy-only P runs, which
  re-learned the z densities from scratch, drowned in z bits: configs/ssf-entropy.json);
- per latent, variants learn side by side from the package's h_s on the same
  batches: "hyperprior" (h_s retrained, the baseline), "checkerboard" (channel
  groups + checkerboard context, the one that ships), optionally "groups";
- loss per variant: bits of both y latents + lambda * 255^2 * (pixel MSE that
  their latent errors cost, through per-channel weights of the frozen
  synthesis: r_g_s for the residual, m_g_s + warp for the motion's prediction),
  the gradient reaching the means only (as for intra).

The residual latent of every variant is computed from the prediction of the
package's own motion decoding (the means move y_hat by under a quantization
step, so the shipped codec's residual input differs by little), which keeps
the variants' comparison on identical inputs.

Joint mode ("joint": true, residual latent, one variant): the residual
transforms (r_g_a, r_h_a, r_g_s, gains, z bottleneck) train with the heads on
the pixel loss, as models/train_checkerboard.py's joint mode does for intra,
over T-frame clips (each P-frame predicted from the previous reconstruction)
against the I-frames of `intra_package`. The motion networks stay frozen:
every run that trained them grew the motion latent (models/README.md). Each
checkpoint also writes base.pt, the whole P model as a models.train_ssf
checkpoint (residual h_s the head's), for models.export_ssf (with the package's
motion z tables: --z-from PKG --z-latents motion); export_checkerboard_ssf
--package <that folder> then adds the heads.

Validation: held-out AIA 171 frames 0..3, I-frame 0 with the intra package,
P-frames 1..3 chained per variant (each predicted from its own reconstruction)
with hard rounding: y bits = -log2 likelihood, z bits from the package's
quantized CDFs; P-frame bpp and PSNR per quality.
"""

import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from models.checkerboard import CheckerboardGroups, init_heads, param_groups, set_lrs
from models.clips import ClipSampler, load_val_clip
from models.export import code_bits, round_half_away
from models.package import fit_z_density, load_h_s, load_heads, load_hyperprior, load_ssf, verify_heads
from models.ssf import apply_gain, reference_gain
from models.train import at_end, config_path, decay_late, load_optimizers, open_log, pad_to, save_atomic, start_run

LATENTS = ("motion", "residual")
PREFIX = {"motion": "m_", "residual": "r_"}  # graph names in the package

DEFAULTS = dict(
    name="ssf-checkerboard", package="models/ssf", intra_package="models/hyperprior",
    groups={"motion": [8, 8, 16, 32], "residual": [16, 16, 32, 32]},
    variants=["hyperprior", "checkerboard"],
    synth_dir="models/pack/synth-clips", crop=128, batch=8, p_synth=0.5, p_xwl=0.25,
    lr=1e-4, clip=1.0, max_iters=2_000_000, ckpt_every_s=180, val_every_s=900,
    val_start=0, val_len=4, data="/work/shared/data", seed=0, threads=2, notes=[],
    # Contexts correct scales only, h_s frozen: decoded frames stay the package's
    # (models/checkerboard.py: CheckerboardGroups pin_means).
    pin_means=False,
    # Latents that get trained heads; the others are coded as the package codes them.
    latents=list(LATENTS),
    # A new run's context/side weights from another run of this trainer, h_s kept
    # from the package: {"ckpt": path, "from": {variant: its variant}}
    # (checkerboard.init_heads, as models/train_checkerboard.py's "init").
    init=None,
    gc_lr=None,  # learning rate of the global context (checkerboard.param_groups); None: lr
    # Joint mode (module docstring): clip length, the z bottleneck's aux rate
    # and the late decay of models/train.py.
    joint=False, T=2, aux_lr=1e-3, decay_last_s=0, decay_factor=0.3,
    # The heads to start from (init) were trained with means pinned: build them
    # so to load them, then unpin (CheckerboardGroups.unpin).
    init_pinned=False,
)


class Frozen:
    """The package's networks (no gradients) and the steps both training and
    validation take through them."""

    def __init__(self, cfg, device):
        self.intra, _ = load_hyperprior(cfg["intra_package"])
        self.ssf, self.mj = load_ssf(cfg["package"])
        for m in (self.intra, self.ssf):
            m.to(device).eval()
            for p in m.parameters():
                p.requires_grad_(False)
        self.num_qualities = self.ssf.num_qualities
        # Joint mode: the residual transforms train (its h_s is the head's) and
        # its z is coded with the trained bottleneck, not the package's tables.
        self.joint = bool(cfg.get("joint"))
        if self.joint:
            for n, p in self.ssf.residual.named_parameters():
                p.requires_grad_(not n.startswith("h_s."))

    def trainable(self):
        """(name, parameter) of the residual transforms, gains and z density
        (its quantiles train apart, on the aux loss)."""
        return [("residual." + n, p) for n, p in self.ssf.residual.named_parameters()
                if p.requires_grad and not n.endswith("quantiles")]

    def latent(self, name):
        return getattr(self.ssf, name)

    @staticmethod
    def z_hat(hp, yg):
        """z of a gained latent, rounded around the package's medians."""
        eb = hp.entropy_bottleneck
        z = hp.h_a(yg)
        med = eb._get_medians()
        return torch.round(z - med) + med

    def z_bits(self, name, z_hat):
        """Code length of z_hat with the package's quantized z tables (bits);
        in joint mode the residual's from its trained density."""
        if self.joint and name == "residual":
            _, lik = self.ssf.residual.entropy_bottleneck(z_hat, training=False)
            return -torch.log2(lik).sum().item()
        spec = self.mj[name]["z"]
        med = np.asarray(spec["medians"], np.float32)[None, :, None, None]
        sym = round_half_away(z_hat.cpu().numpy() - med)
        idx = np.broadcast_to(np.arange(sym.shape[1])[None, :, None, None], sym.shape)
        return code_bits(sym, idx, spec["offsets"], spec["cdfs"])

    @torch.no_grad()
    def analyse_motion(self, x, ref, q, gain=None):
        """(reference after the global gain, gained motion y, its z_hat); the
        gain is fitted on x and ref unless given."""
        m = self.ssf.motion
        ref = apply_gain(ref, reference_gain(x, ref) if gain is None else gain)
        yg = m.g_a(torch.cat([x, ref], 1)) * m.gain(q)[None, :, None, None]
        return ref, yg, self.z_hat(m, yg)

    def predict(self, ref, y_hat, q):
        m = self.ssf.motion
        return self.ssf.predict(ref, self.ssf.upsample_flow(m.g_s(y_hat * m.inv_gain(q)[None, :, None, None])))

    @torch.no_grad()
    def analyse_residual(self, x, pred, q):
        r = self.ssf.residual
        yg = r.g_a(x - pred) * r.gain(q)[None, :, None, None]
        return yg, self.z_hat(r, yg)

    def synthesize(self, pred, y_hat, q):
        r = self.ssf.residual
        return pred + r.g_s(y_hat * r.inv_gain(q)[None, :, None, None])

    @torch.no_grad()
    def package_y_hat(self, name, yg, z_hat):
        """y_hat as the package's own h_s decodes it."""
        _, means = self.latent(name).h_s(z_hat).chunk(2, 1)
        return torch.round(yg - means) + means


def build_heads(cfg, frozen, device):
    heads = torch.nn.ModuleDict()
    for name in LATENTS:
        if name not in cfg["latents"]:
            continue
        prefix = PREFIX[name]
        hp = frozen.latent(name)
        per = torch.nn.ModuleDict()
        for v in cfg["variants"]:
            # The motion latent has no side image (it is decoded before pred exists).
            # A joint run starts from the package's heads, pinned (init_pinned),
            # and unpins them once loaded.
            h = CheckerboardGroups(hp.N, hp.M, groups=cfg["groups"][name],
                                   variant=v.replace("+side", "") if name == "motion" else v,
                                   pin_means=cfg["pin_means"] or cfg.get("init_pinned", False))
            load_h_s(h.h_s, cfg["package"], f"{prefix}h_s.onnx")
            if cfg["pin_means"]:
                h.h_s.requires_grad_(False)
            per[v] = h
        heads[name] = per
    return heads.to(device)


def unpin(heads):
    """Every head of an init_pinned run as it trains: means free."""
    for per in heads.values():
        for h in per.values():
            h.unpin()


@torch.no_grad()
def distortion_weights(frozen, x, ref, q=3, eps=0.05):
    """Pixel MSE per unit of latent error variance, per channel, measured by
    perturbing one channel at a time around real latents (see
    train_checkerboard.distortion_weights): through the warp for the motion
    (what a motion error does to the prediction; the residual then repairs
    part of it, so this is an upper bound) and through r_g_s for the residual."""
    g = torch.Generator().manual_seed(0)
    ref, ym, zm = frozen.analyse_motion(x, ref, q)
    ym_hat = frozen.package_y_hat("motion", ym, zm)
    pred = frozen.predict(ref, ym_hat, q)
    yr, zr = frozen.analyse_residual(x, pred, q)
    yr_hat = frozen.package_y_hat("residual", yr, zr)
    out = {}
    for name, y, f in (("motion", ym_hat, lambda y: frozen.predict(ref, y, q)),
                       ("residual", yr_hat, lambda y: frozen.synthesize(pred, y, q))):
        base = f(y)
        w = torch.zeros(y.shape[1])
        for c in range(y.shape[1]):
            d = torch.zeros_like(y)
            d[:, c] = eps * torch.randn(y[:, c].shape, generator=g)
            w[c] = F.mse_loss(f(y + d), base) / eps ** 2
        out[name] = w
    return out


def step_rates(frozen, heads, x, ref, q):
    """{latent: {variant: (y bits, y_hat)}} and the gained latents, for one
    batch of P-frames (x, intra-decoded ref) at quality q."""
    ref, ym, zm = frozen.analyse_motion(x, ref, q)
    pred = frozen.predict(ref, frozen.package_y_hat("motion", ym, zm), q).detach()
    yr, zr = frozen.analyse_residual(x, pred, q)
    out = {}
    for name, yg, z_hat in (("motion", ym, zm), ("residual", yr, zr)):
        if name not in heads:
            continue
        out[name] = {}
        for v, h in heads[name].items():
            lik, y_hat = h(yg, z_hat, pred if name == "residual" else None)
            out[name][v] = (-torch.log2(lik).sum(), y_hat)
    return out, {"motion": ym, "residual": yr}


def joint_step(frozen, head, x, ref, q):
    """One batch of P-frames with gradients to the residual transforms and
    `head` (straight-through y_hat): (y bits, z bits, x_hat)."""
    ref, ym, zm = frozen.analyse_motion(x, ref, q)
    pred = frozen.predict(ref, frozen.package_y_hat("motion", ym, zm), q).detach()
    r = frozen.ssf.residual
    yg = r.g_a(x - pred) * r.gain(q)[None, :, None, None]
    z_hat, z_lik = r.entropy_bottleneck(r.h_a(yg), training=True)
    lik, y_hat = head(yg, z_hat, pred, ste=True)
    return -torch.log2(lik).sum(), -torch.log2(z_lik).sum(), frozen.synthesize(pred, y_hat, q)


def base_checkpoint(frozen, heads, cfg, it, wall, device):
    """A joint run's whole P model as a models.train_ssf checkpoint, for
    models.export_ssf: the package's networks with the trained residual
    transforms, the residual h_s the head's (the motion z density is an
    untrained one: export with the package's motion z tables)."""
    (head,) = heads["residual"].values()
    ssf = frozen.ssf
    state = {k: v for k, v in ssf.state_dict().items() if not k.startswith("residual.h_s.")}
    state.update({"residual.h_s." + k: v for k, v in head.h_s.state_dict().items()})
    m = ssf.motion
    b_cfg = dict(name=cfg["name"], N=m.N, M_motion=m.M, M_residual=ssf.residual.M,
                 levels=ssf.warp.levels, sigma0=ssf.warp.sigmas[0], flow_stride=ssf.flow_stride,
                 T=cfg["T"], crop=cfg["crop"], batch=cfg["batch"], p_synth=cfg["p_synth"], p_xwl=cfg["p_xwl"],
                 lr=cfg["lr"], gain_lr=cfg["lr"], aux_lr=cfg["aux_lr"], threads=cfg["threads"],
                 _config=config_path(cfg), trainer="models.train_checkerboard_ssf", notes=[
                     f"the P networks of {cfg['package']} with their residual transforms, gains and z trained "
                     f"{it:,} iterations ({wall / 3600:.2f} h) jointly with the {next(iter(heads['residual']))} "
                     f"residual entropy model (`python -m models.train_checkerboard_ssf --config "
                     f"{config_path(cfg)}`) against the I-frames of {cfg['intra_package']}; motion frozen; "
                     "residual h_s here is the head's"] + list(cfg.get("notes") or []))
    return {"model": state, "intra_config": {"lambdas": list(ssf.lambdas)}, "config": b_cfg,
            "iter": it, "wall_s": wall, "device": device}


@torch.no_grad()
def validate(frozen, heads, clip, device):
    """Per variant and quality: mean (bpp, PSNR) of P-frames 1.. of `clip`,
    each chained from its own reconstruction."""
    heads.eval()
    H, W = clip[0].shape
    npix = H * W
    xs = [pad_to(torch.from_numpy(t)[None, None].to(device)) for t in clip]
    variants = list(next(iter(heads.values())))
    res = {v: [] for v in variants}

    def code(name, v, yg, z_hat, side=None):
        """(likelihoods, y_hat): the variant's head, or the package's own h_s."""
        if name in heads:
            return heads[name][v](yg, z_hat, side)
        scales, means = frozen.latent(name).h_s(z_hat).chunk(2, 1)
        _, lik = frozen.latent(name).gaussian_conditional(yg, scales, means=means)
        return lik, torch.round(yg - means) + means

    for q in range(frozen.num_qualities):
        ref0 = pad_to(frozen.intra(xs[0], q)["x_hat"].clamp(0, 1)[..., :H, :W])
        for v in res:
            ref, bpps, psnrs = ref0, [], []
            for x in xs[1:]:
                # The gain is fitted on the unpadded frame, as codec-core does.
                g = reference_gain(x[..., :H, :W], ref[..., :H, :W])
                refg, ym, zm = frozen.analyse_motion(x, ref, q, g)
                lik_m, ym_hat = code("motion", v, ym, zm)
                pred = frozen.predict(refg, ym_hat, q)
                yr, zr = frozen.analyse_residual(x, pred, q)
                lik_r, yr_hat = code("residual", v, yr, zr, pred)
                x_hat = frozen.synthesize(pred, yr_hat, q).clamp(0, 1)[..., :H, :W]
                bits = (-torch.log2(lik_m).sum() - torch.log2(lik_r).sum()).item()
                bits += frozen.z_bits("motion", zm) + frozen.z_bits("residual", zr)
                bpps.append(bits / npix)
                psnrs.append(10 * math.log10(1 / F.mse_loss(x_hat, x[..., :H, :W]).item()))
                ref = pad_to(x_hat)
            res[v].append((float(np.mean(bpps)), float(np.mean(psnrs))))
    heads.train()
    return res


def main():
    cfg, device, ckpath, rundir = start_run(DEFAULTS)
    joint = cfg["joint"]
    assert not joint or (cfg["latents"] == ["residual"] and len(cfg["variants"]) == 1 and not cfg["pin_means"]), \
        "joint training takes the residual latent, one variant, means free"
    frozen = Frozen(cfg, device)
    heads = build_heads(cfg, frozen, device)
    named = [(n, p) for n, p in heads.named_parameters() if p.requires_grad]
    opt = torch.optim.Adam(param_groups(named + (frozen.trainable() if joint else []), cfg["lr"], cfg["gc_lr"]))
    eb = frozen.ssf.residual.entropy_bottleneck
    aux_opt = torch.optim.Adam([eb.quantiles], lr=cfg["aux_lr"]) if joint else None
    it, wall, seed = 0, 0.0, cfg["seed"]
    if not os.path.exists(ckpath) and cfg["init"] and "package" in cfg["init"]:
        # The shipped heads themselves (a fresh clone has no checkpoint).
        for name, per in heads.items():
            for v, h in per.items():
                load_heads(h, cfg["init"]["package"], PREFIX[name])
                d = verify_heads(h, cfg["init"]["package"], PREFIX[name])
                print(f"{name}/{v}: heads from package {cfg['init']['package']} "
                      f"(passes within {d:.2g} of its graphs)", flush=True)
    elif not os.path.exists(ckpath) and cfg["init"]:
        init_heads([(f"{name}.", per) for name, per in heads.items()], cfg["init"], keep=("h_s.",))
        print(f"context/side weights from {cfg['init']['ckpt']} ({cfg['init']['from']}), h_s kept from the package",
              flush=True)
    if joint and not os.path.exists(ckpath):
        # The package holds z tables, not the density: fit one to them, so the
        # z rate starts where the package codes.
        before, after, ent = fit_z_density(eb, frozen.mj["residual"]["z"])
        print(f"residual z density fitted to the package's tables: {before:.3f} -> {after:.3f} bits per "
              f"element (tables' entropy {ent:.3f})", flush=True)
    if cfg.get("init_pinned"):
        unpin(heads)  # loaded pinned; trained (and, on a resume, loaded) unpinned
    if os.path.exists(ckpath):
        ck = torch.load(ckpath, map_location=device, weights_only=False)
        missing, unexpected = heads.load_state_dict(ck["heads"], strict=False)
        if unexpected:
            raise ValueError(f"{ckpath} has heads this config lacks: {unexpected[:4]}...")
        if joint:
            frozen.ssf.residual.load_state_dict(ck["residual"])
        if missing:
            # A variant added to a running experiment starts from the package;
            # Adam restarts for all (its state is per parameter list).
            print(f"new variant parameters ({len(missing)} tensors) start fresh; optimizer state reset", flush=True)
        else:
            load_optimizers(ck, (opt, "opt"), *([(aux_opt, "aux_opt")] if joint else []))
        it, wall = ck["iter"], ck["wall_s"]
        set_lrs(opt, cfg["lr"], cfg["gc_lr"])
        seed = cfg["seed"] + it
        print(f"resumed from {ckpath} at iter {it} ({wall:.0f} s)", flush=True)
    json.dump(cfg, open(os.path.join(rundir, "config.json"), "w"), indent=1)

    sampler = ClipSampler(cfg["synth_dir"], cfg["T"] if joint else 2, cfg["crop"], seed=seed, p_synth=cfg["p_synth"],
                          data_dir=cfg["data"], p_xwl=cfg["p_xwl"])
    val = load_val_clip(cfg["data"], cfg["val_start"], cfg["val_len"])
    Q = frozen.num_qualities
    rng = np.random.default_rng(seed + 1)
    dist_w = {}
    if not joint:  # the joint loss has the real pixel distortion
        # Distortion weights from a fixed batch (seeded apart from training).
        wb = torch.from_numpy(ClipSampler(cfg["synth_dir"], 2, cfg["crop"], seed=123, p_synth=cfg["p_synth"],
                                          data_dir=cfg["data"]).batch(8)).to(device)
        with torch.no_grad():
            wref = frozen.intra(wb[0], 3)["x_hat"].clamp(0, 1)
        dist_w = {k: w.to(device) for k, w in distortion_weights(frozen, wb[1], wref).items()}
    for k, w in dist_w.items():
        print(f"{k} distortion weights: {w.min():.3g}..{w.max():.3g} (mean {w.mean():.3g})", flush=True)

    variants = list(next(iter(heads.values())))
    trained = list(heads)
    logf, log = open_log(rundir, ["iter", "wall_s", "it_per_s"]
                         + [f"bpp_{l}_{v}" for l in trained for v in variants]
                         + [f"val_{v}_q{q + 1}_{m}" for v in variants for q in range(Q) for m in ("bpp", "psnr")])

    def summary(acc):
        """The training accumulators as printed: y bpp per latent and variant (joint: z bpp, pixel MSE)."""
        n = max(acc["n"], 1)
        return (" ".join(f"{l[0]}/{v} {acc[(l, v)] / n:.4f}" for l in trained for v in variants)
                + (f" | z {acc['z'] / n:.4f} MSE {acc['mse'] / n:.3g}" if joint else ""))

    def report(it, wall, ips, acc):
        n = max(acc["n"], 1)
        train = summary(acc)
        res = validate(frozen, heads, val, device)
        log.writerow([it, round(wall, 1), round(ips, 3)] + [round(acc[(l, v)] / n, 5) for l in trained for v in variants]
                     + [round(x, 5) for v in variants for bp in res[v] for x in bp])
        logf.flush()
        print(f"iter {it} wall {wall:.0f}s {ips:.2f} it/s train y bpp {train} | val P bpp/PSNR", flush=True)
        for v in variants:
            print(f"  {v:13s} " + " ".join(f"q{q + 1} {b:.4f}/{p:.2f}" for q, (b, p) in enumerate(res[v])), flush=True)

    def fresh():
        return {"n": 0, "z": 0.0, "mse": 0.0, **{(l, v): 0.0 for l in trained for v in variants}}

    def joint_loss(clip, q):
        """Mean over the clip's P-frames of (y + z bits) / pixel + lambda 255^2 MSE,
        each P-frame predicted from the previous reconstruction (detached)."""
        with torch.no_grad():
            ref = frozen.intra(clip[0], q)["x_hat"].clamp(0, 1)
        (head,) = heads["residual"].values()
        loss = 0.0
        for x in clip[1:]:
            npix = x.shape[0] * x.shape[2] * x.shape[3]
            by, bz, x_hat = joint_step(frozen, head, x, ref, q)
            mse = F.mse_loss(x_hat, x)
            loss = loss + (by + bz) / npix + frozen.ssf.lambdas[q] * 255 ** 2 * mse
            acc[("residual", variants[0])] += by.item() / npix / (len(clip) - 1)
            acc["z"] += bz.item() / npix / (len(clip) - 1)
            acc["mse"] += mse.item() / (len(clip) - 1)
            ref = x_hat.detach().clamp(0, 1)
        return loss / (len(clip) - 1)

    acc = fresh()
    if it == 0:
        report(0, 0.0, 0.0, acc)  # the package itself: every variant starts there
    wall0, t_start, t_ck, it_ck, t_val = wall, time.time(), time.time(), it, time.time()
    heads.train()
    while it < cfg["max_iters"]:
        q = int(rng.integers(Q))
        clip = torch.from_numpy(sampler.batch(cfg["batch"])).to(device)
        if joint:
            loss = joint_loss(clip, q)
        else:
            with torch.no_grad():
                ref = frozen.intra(clip[0], q)["x_hat"].clamp(0, 1)
            x = clip[1]
            npix = x.shape[0] * x.shape[2] * x.shape[3]
            out, ygs = step_rates(frozen, heads, x, ref, q)
            loss = 0.0
            lam = frozen.ssf.lambdas[q] * 255 ** 2
            for name in trained:
                ig = frozen.latent(name).inv_gain(q)[None, :, None, None]
                for v, (bits, y_hat) in out[name].items():
                    e2 = (((y_hat - ygs[name]) * ig) ** 2).mean(dim=(0, 2, 3))
                    loss = loss + bits / npix + lam * (dist_w[name] * e2).sum()
                    acc[(name, v)] += bits.item() / npix
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], cfg["clip"])
        opt.step()
        if joint:
            aux = eb.loss()
            aux_opt.zero_grad()
            aux.backward()
            aux_opt.step()
        it += 1
        last = at_end(cfg, it)
        decay_late(cfg, opt)
        acc["n"] += 1

        now = time.time()
        if now - t_ck >= cfg["ckpt_every_s"] or last:
            ips = (it - it_ck) / (now - t_ck)
            wall = wall0 + (now - t_start)
            save_atomic({"heads": heads.state_dict(), "opt": opt.state_dict(), "iter": it, "wall_s": wall,
                         "config": cfg, "device": device,
                         **({"residual": frozen.ssf.residual.state_dict(), "aux_opt": aux_opt.state_dict()}
                            if joint else {})}, ckpath)
            if joint:
                save_atomic(base_checkpoint(frozen, heads, cfg, it, wall, device),
                            os.path.join(os.path.dirname(ckpath), "base.pt"))
            if now - t_val >= cfg["val_every_s"] or last:
                t_val = now
                report(it, wall, ips, acc)
                acc = fresh()
            else:
                print(f"iter {it} wall {wall:.0f}s {ips:.2f} it/s train y bpp {summary(acc)}", flush=True)
            t_ck, it_ck = time.time(), it
            if last:
                break


if __name__ == "__main__":
    main()
