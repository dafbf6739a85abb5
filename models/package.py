"""Read a shipped model package (models/PACKAGE.md) back into PyTorch.

Checkpoints stay out of git and die with the machine; the ONNX graphs and
model.json in the repo hold every trained weight of the transforms. This turns
them back into a GainedMeanScaleHyperprior so a new run can start from the
shipped networks (warm start; Adam state and the z bottleneck's density
parameters are not in a package: the bottleneck is re-learned, its medians
seed the quantiles).
"""

import json
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from compressai.layers import GDN
from models.hyperprior import GainedMeanScaleHyperprior


def initializers(path):
    """A graph's weights by name; rewritten synthesis graphs (models/subpixel.py)
    give their original ConvTranspose weights back."""
    from models.subpixel import original_initializers
    return {k: torch.from_numpy(v.copy()) for k, v in original_initializers(onnx.load(path)).items()}


def _load_seq(seq, weights, prefix=""):
    """Copy '<i>.weight/bias' and baked GDN '<i>.beta/gamma' into seq[i]."""
    used = set()
    with torch.no_grad():
        for i, mod in enumerate(seq):
            key = f"{prefix}{i}"
            if isinstance(mod, GDN):
                C = mod.beta.numel()
                mod.beta.copy_(mod.beta_reparam.init(weights[f"{key}.beta"]))
                mod.gamma.copy_(mod.gamma_reparam.init(weights[f"{key}.gamma"].reshape(C, C)))
                used |= {f"{key}.beta", f"{key}.gamma"}
            elif hasattr(mod, "weight"):
                mod.weight.copy_(weights[f"{key}.weight"])
                mod.bias.copy_(weights[f"{key}.bias"])
                used |= {f"{key}.weight", f"{key}.bias"}
    return used


def _check_all_used(name, weights, used):
    left = set(weights) - used
    if left:
        raise ValueError(f"{name}: initializers not loaded: {sorted(left)}")


def load_h_s(h_s, pkg_dir, graph="h_s.onnx"):
    """h_s's last conv was exported split into 'scales' and 'means' convs."""
    w = initializers(os.path.join(pkg_dir, graph))
    used = _load_seq(h_s[:-1], w, "body.")
    with torch.no_grad():
        h_s[-1].weight.copy_(torch.cat([w["scales.weight"], w["means.weight"]]))
        h_s[-1].bias.copy_(torch.cat([w["scales.bias"], w["means.bias"]]))
    _check_all_used("h_s", w, used | {"scales.weight", "means.weight", "scales.bias", "means.bias"})


def narrow_synthesis(hp, weights, prefix=""):
    """Swap in models/synthesis.py's NarrowSynthesis where a package's g_s is one
    (its 1/2-resolution layers have fewer channels than N)."""
    half = weights[f"{prefix}4.weight"].shape[1]
    if half != hp.N:
        from models.synthesis import NarrowSynthesis
        hp.g_s = NarrowSynthesis(hp.N, hp.M, half)


def load_hyperprior(pkg_dir):
    """The package's networks and gains as a GainedMeanScaleHyperprior."""
    mj = json.load(open(os.path.join(pkg_dir, "model.json")))
    lambdas = [q["lambda"] for q in mj["qualities"]]
    model = GainedMeanScaleHyperprior(mj["N"], mj["M"], lambdas)
    for name in ("g_a", "h_a", "g_s"):
        w = initializers(os.path.join(pkg_dir, f"{name}.onnx"))
        if name == "g_s":
            narrow_synthesis(model, w)
        _check_all_used(name, w, _load_seq(getattr(model, name), w))
    load_h_s(model.h_s, pkg_dir)
    with torch.no_grad():
        model.log_gain.copy_(torch.tensor(np.log([q["gain"] for q in mj["qualities"]]), dtype=torch.float32))
        model.log_inv_gain.copy_(torch.tensor(np.log([q["inv_gain"] for q in mj["qualities"]]),
                                              dtype=torch.float32))
        med = torch.tensor(mj["z"]["medians"], dtype=torch.float32)
        model.entropy_bottleneck.quantiles[:, 0, 1] = med
    return model, mj


def _load_latent(hp, pkg_dir, prefix, spec):
    """One gained-hyperprior latent of an inter package: h_a, h_s, gains,
    medians (g_a/g_s live in wrapper graphs, loaded by the caller)."""
    w = initializers(os.path.join(pkg_dir, f"{prefix}h_a.onnx"))
    _check_all_used(f"{prefix}h_a", w, _load_seq(hp.h_a, w))
    load_h_s(hp.h_s, pkg_dir, f"{prefix}h_s.onnx")
    with torch.no_grad():
        hp.log_gain.copy_(torch.tensor(np.log([q["gain"] for q in spec["qualities"]]), dtype=torch.float32))
        hp.log_inv_gain.copy_(torch.tensor(np.log([q["inv_gain"] for q in spec["qualities"]]), dtype=torch.float32))
        hp.entropy_bottleneck.quantiles[:, 0, 1] = torch.tensor(spec["z"]["medians"], dtype=torch.float32)


def load_ssf(pkg_dir, levels=5, sigma0=1.5):
    """The inter package as a ScaleSpaceFlow (same warm-start caveats as
    load_hyperprior; the warp has no weights)."""
    from models.ssf import ScaleSpaceFlow
    mj = json.load(open(os.path.join(pkg_dir, "model.json")))
    mo, re = mj["motion"], mj["residual"]
    lambdas = [q["lambda"] for q in mo["qualities"]]
    model = ScaleSpaceFlow(lambdas, mo["N"], mo["M"], re["M"], levels, sigma0, mo.get("flow_stride", 1))
    m_g_s = "m_g_s" if mj.get("warp") == "codec-core" else "predict"  # same weights either way
    for graph, seq, prefix in [("m_g_a", model.motion.g_a, "g_a."), (m_g_s, model.motion.g_s, "g_s."),
                               ("r_g_a", model.residual.g_a, "g_a."), ("r_g_s", model.residual.g_s, "g_s.")]:
        w = initializers(os.path.join(pkg_dir, f"{graph}.onnx"))
        if graph == "r_g_s":
            narrow_synthesis(model.residual, w, prefix)
            seq = model.residual.g_s
        _check_all_used(graph, w, _load_seq(seq, w, prefix))
    _load_latent(model.motion, pkg_dir, "m_", mo)
    _load_latent(model.residual, pkg_dir, "r_", re)
    return model, mj


def _linear_names(model):
    """Linear layers export as MatMul + Add with the weight (transposed) under an
    anonymous name: map each such initializer to '<layer>.weight', the layer
    named by the bias its Add adds."""
    inits = {i.name for i in model.graph.initializer}
    users = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    names = {}
    for n in model.graph.node:
        if n.op_type != "MatMul":
            continue
        for w in (i for i in n.input if i in inits and i.startswith("onnx::")):
            biases = [i for a in users.get(n.output[0], []) if a.op_type == "Add"
                      for i in a.input if i in inits and i.endswith(".bias")]
            if len(biases) != 1:
                raise ValueError(f"{w}: no single bias after its MatMul ({biases})")
            names[w] = biases[0][: -len("bias")] + "weight"
    return names


def load_heads(head, pkg_dir, prefix=""):
    """A shipped channel-group / checkerboard entropy model (its h_s, side
    features and context passes {prefix}cg{k}_{a,n}.onnx) into a
    models.checkerboard.CheckerboardGroups of the same variant, so a run can
    continue the heads from a fresh clone. Every parameter must be found, and
    those two passes share must agree."""
    from models.export_checkerboard import group_graphs
    load_h_s(head.h_s, pkg_dir, f"{prefix}h_s.onnx")
    if head.side is not None:
        w = initializers(os.path.join(pkg_dir, f"{prefix}side.onnx"))
        head.side.load_state_dict(w, strict=True)
    loaded = {}
    for name, (mod, _, _, _) in group_graphs(head).items():
        from models.subpixel import original_initializers
        path = os.path.join(pkg_dir, f"{prefix}{name}.onnx")
        m = onnx.load(path)  # once: names and weights both come from it
        rename = _linear_names(m)
        w = {rename.get(k, k): (torch.from_numpy(v.copy()).t() if k in rename else torch.from_numpy(v.copy()))
             for k, v in original_initializers(m).items()}
        own = dict(mod.named_parameters())
        left = set(w) - set(own)
        if left:
            raise ValueError(f"{path}: initializers with no parameter: {sorted(left)}")
        with torch.no_grad():
            for k, v in w.items():
                key = (id(mod.ctx), k)
                if key in loaded and not torch.equal(loaded[key], v):
                    raise ValueError(f"{path}: {k} differs from the other pass's")
                own[k].copy_(v)
                loaded[key] = v
    for g in head.ctx or []:
        missing = [k for k, _ in g.named_parameters(prefix="ctx") if (id(g), k) not in loaded]
        if missing:
            raise ValueError(f"{pkg_dir}: parameters in no graph: {missing}")


def verify_heads(head, pkg_dir, prefix="", hw=(8, 12), tol=1e-3):
    """Run every context pass of `head` (after load_heads) and of the package's
    graphs on the same random inputs: a head built with other options than the
    package's (pin_means, side, groups) fails here instead of training on
    wrong weights. Returns the largest difference."""
    import onnxruntime as ort
    from models.export_checkerboard import group_graphs
    M, (h, w) = head.M, hw
    g = torch.Generator().manual_seed(0)
    side = None
    if head.side is not None:
        side = head.side(torch.rand(1, 1, 16 * h, 16 * w, generator=g))
    worst = 0.0
    for name, (mod, ins, start, G) in group_graphs(head).items():
        x = {"hyper_scales": 3 * torch.rand(1, M, h, w, generator=g), "hyper_means": torch.randn(1, M, h, w, generator=g),
             "y_prev": 3 * torch.randn(1, start, h, w, generator=g), "anchors": 3 * torch.randn(1, G, h, w, generator=g),
             "side": side}
        sess = ort.InferenceSession(os.path.join(pkg_dir, f"{prefix}{name}.onnx"), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            ours = mod.eval()(*[x[n] for n in ins])
        theirs = sess.run(None, {n: x[n].detach().numpy() for n in ins})
        d = max(float(np.abs(a.detach().numpy() - b).max()) for a, b in zip(ours, theirs))
        if d > tol:
            raise ValueError(f"{pkg_dir}/{prefix}{name}.onnx: the loaded head differs by {d:.3g} "
                             "(built with other options than the package's? pin_means, side, groups)")
        worst = max(worst, d)
    return worst


def fit_z_density(eb, spec, steps=1500, lr=1e-2):
    """Fit a fresh EntropyBottleneck's density to a package's quantized z
    tables (spec = model.json's "z"), so a run that trains h_a starts with the z
    rate the package codes at instead of a flat density's (packages hold the
    tables, not the density). Minimises the cross-entropy of each channel's
    table pmf under the density, at the package's medians; returns (bits per
    z element before, after, the tables' own entropy), averaged over channels."""
    med = torch.tensor(spec["medians"], dtype=torch.float32)
    C = len(spec["cdfs"])
    K = max(len(c) - 2 for c in spec["cdfs"])  # symbols, without the escape bin
    vals = torch.zeros(1, C, 1, K)
    pmf = torch.zeros(1, C, 1, K)
    for c, (cdf, off) in enumerate(zip(spec["cdfs"], spec["offsets"])):
        p = np.diff(np.asarray(cdf[:-1], np.float64)) / 2.0 ** 16
        vals[0, c, 0, :len(p)] = torch.arange(len(p), dtype=torch.float32) + off + med[c]
        vals[0, c, 0, len(p):] = med[c]
        pmf[0, c, 0, :len(p)] = torch.from_numpy(p / p.sum()).float()
    dev = eb.quantiles.device  # a CUDA run fits on its device
    vals, pmf, med = vals.to(dev), pmf.to(dev), med.to(dev)
    with torch.no_grad():
        eb.quantiles[:, 0, 1] = med
    params = [p for n, p in eb.named_parameters() if not n.endswith("quantiles")]
    opt = torch.optim.Adam(params, lr=lr)

    def xent():
        _, lik = eb(vals, training=False)
        return -(pmf * torch.log2(lik)).sum() / C

    before = xent().item()
    for _ in range(steps):
        loss = xent()
        opt.zero_grad()
        loss.backward()
        opt.step()
    ent = -(pmf * torch.log2(pmf.clamp_min(1e-12))).sum().item() / C
    return before, xent().item(), ent
