"""Uneven channel groups with checkerboard context: the source paper's entropy
model (section III.C, after He et al. 2021 and ELIC's uneven grouping) for the
gained hyperprior's latent y, with its masked-attention global context as an
option (variant "checkerboard+global").

y (M=96 channels) is split into groups of 16, 16, 32 and 32 channels, coded in
that order. Each group is coded in two passes over a checkerboard:

    anchors     (row + col even):  params = ep_k(hyper, cc_k(y_hat[<k]), 0)
    non-anchors (row + col odd):   params = ep_k(hyper, cc_k(y_hat[<k]), lc_k(anchors_k))

hyper = h_s(z_hat) (2M channels, as the plain hyperprior's h_s computes its
scales and means), ep_k predicts corrections to hyper's scales and means of
the group, cc_k = channel context from the already decoded groups,
lc_k = a 5x5 conv over the group's decoded anchors with every non-anchor set
to zero (so at a non-anchor position it only sees anchors: the checkerboard
mask is in the input, not in the weights), ep_k = 1x1 convs. Every pass is one
network call over the whole latent, so decoding stays parallel: 2 calls per
group, never a per-symbol loop.

Global context (variant "checkerboard+global", GlobalContext): the local
context map goes through a Transformer block (layer norm, multi-head
self-attention, MLP) before ep_k, so a non-anchor position also sees decoded
anchors far away. Queries, keys and values come from the local context plus
the group's hyperprior scales and means and, at anchors, how far the decoded
anchor fell from its mean: a position can find others the hyperprior described
alike and learn from their decoded anchors how the hyperprior erred on this
frame (the global reference of Qian et al. 2021, in parallel form). Tokens only
hold decoded anchors and hyperprior outputs, so no token can leak a non-anchor
value: the paper's checkerboard mask is again in the input. Attention runs in windows of WINDOW x WINDOW latent positions (256 x
256 pixels) rather than over the whole latent, so that memory grows linearly
with the frame (a 4096x4096 frame has 65,536 latent positions); the padding of
the last windows is masked out of the keys.

Transforms: g_a, h_a, g_s and the per-quality gains are those of the shipped
hyperprior package, frozen (loaded from its ONNX graphs); only h_s, the
contexts and the z bottleneck are trained. y_hat = round(yg - mean) + mean
differs from the shipped package's only through the means, so quality stays
close to it and the entropy models can be compared at (nearly) equal quality;
the loss still has the distortion term (models/train_checkerboard.py), since
rate alone teaches the means to pull latents into the zero bin.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from compressai.entropy_models import GaussianConditional
from compressai.models.utils import conv, deconv

GROUPS = (16, 16, 32, 32)


def anchor_mask(h, w, device=None):
    """[1,1,h,w] float, 1 where (row + col) is even (anchors, coded first)."""
    r = torch.arange(h, device=device)[:, None]
    c = torch.arange(w, device=device)[None, :]
    return (((r + c) % 2) == 0).float()[None, None]


def hyper_synthesis(N, M):
    """The plain hyperprior's h_s (models/hyperprior.py): z_hat -> 2M channels."""
    return nn.Sequential(
        deconv(N, M), nn.LeakyReLU(inplace=True),
        deconv(M, M * 3 // 2), nn.LeakyReLU(inplace=True),
        conv(M * 3 // 2, M * 2, stride=1, kernel_size=3),
    )


class ChannelContext(nn.Module):
    """Already decoded groups -> features for group k (ELIC-style, smaller)."""

    def __init__(self, in_ch, out_ch, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            conv(in_ch, hidden, stride=1, kernel_size=5), nn.GELU(),
            conv(hidden, out_ch, stride=1, kernel_size=5),
        )

    def forward(self, y_prev):
        return self.net(y_prev)


class EntropyParameters(nn.Module):
    """1x1 convs: concatenated contexts -> corrections to the group's
    (scales, means) from h_s. The last layer starts at zero, so training starts
    from the hyperprior's own prediction instead of from noise."""

    def __init__(self, in_ch, G, hidden=128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, hidden, 1), nn.GELU(),
            nn.Conv2d(hidden, hidden * 3 // 4, 1), nn.GELU(),
            nn.Conv2d(hidden * 3 // 4, 2 * G, 1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x):
        d_scales, d_means = self.net(x).chunk(2, 1)
        return d_scales, d_means


class GlobalContext(nn.Module):
    """A pre-norm Transformer block over a [B, C, h, w] context map, attention
    within windows of `window` x `window` positions, the padding of partial
    windows masked out of the keys. Both residual branches end in zero-initialised
    layers, so a head fine-tuned from a trained "checkerboard" one starts exactly
    where that one is."""

    def __init__(self, C, extra=0, dim=32, heads=2, window=16, mlp=2):
        super().__init__()
        self.C, self.dim, self.heads, self.window = C, dim, heads, window
        self.norm1 = nn.LayerNorm(C + extra)
        self.qkv = nn.Linear(C + extra, 3 * dim)
        self.proj = nn.Linear(dim, C)
        self.norm2 = nn.LayerNorm(C)
        self.mlp = nn.Sequential(nn.Linear(C, mlp * C), nn.GELU(), nn.Linear(mlp * C, C))
        for m in (self.proj, self.mlp[-1]):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def spec(self):
        """model.json `context.global` (informational: the graphs hold it)."""
        return {"window": self.window, "dim": self.dim, "heads": self.heads}

    def forward(self, x, extra=None):
        """x [B, C, h, w] the residual stream; extra [B, extra, h, w] what
        attention also reads (not carried on)."""
        B, C, h, w = x.shape
        s = self.window
        ph, pw = (s - h % s) % s, (s - w % s) % s
        t = F.pad(x if extra is None else torch.cat([x, extra], 1), (0, pw, 0, ph))
        valid = F.pad(torch.ones_like(x[:, :1]), (0, pw, 0, ph))
        nh, nw = t.shape[2] // s, t.shape[3] // s
        # [B, C, nh*s, nw*s] -> [B*nh*nw, s*s, C] tokens, one row per window
        Ct = t.shape[1]
        t = t.reshape(B, Ct, nh, s, nw, s).permute(0, 2, 4, 3, 5, 1).reshape(-1, s * s, Ct)
        v = valid.reshape(B, 1, nh, s, nw, s).permute(0, 2, 4, 3, 5, 1).reshape(-1, 1, 1, s * s)
        n, L = t.shape[0], s * s
        d = self.dim // self.heads
        q, k, val = self.qkv(self.norm1(t)).reshape(n, L, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        t = t[..., :C]
        att = (q @ k.transpose(-1, -2)) * d ** -0.5 + (v - 1) * 1e4
        o = (att.softmax(-1) @ val).transpose(1, 2).reshape(n, L, self.dim)
        t = t + self.proj(o)
        t = t + self.mlp(self.norm2(t))
        t = t.reshape(B, nh, nw, s, s, C).permute(0, 5, 1, 3, 2, 4).reshape(B, C, nh * s, nw * s)
        return t[:, :, :h, :w]


class SideFeatures(nn.Module):
    """Features at latent resolution (/16) of an image both sides hold before y
    is decoded: for the P-frame residual, the motion-compensated prediction,
    which says where the residual will be large (changing loops, flares, the
    limb) without spending z bits on it (conditional entropy coding, as in DCVC)."""

    def __init__(self, out_ch=32, hidden=32):
        super().__init__()
        self.net = nn.Sequential(
            conv(1, hidden), nn.GELU(), conv(hidden, hidden), nn.GELU(),
            conv(hidden, hidden), nn.GELU(), conv(hidden, out_ch),
        )

    def forward(self, img):
        return self.net(img)


class GroupContext(nn.Module):
    """Everything that predicts one group's parameters.

    channel: use the decoded earlier groups (False: hyperprior + groups only
    for bookkeeping, an ablation); local: add the checkerboard context;
    glob: pass it through the global context (GlobalContext) too;
    side: channels of side features (SideFeatures) every pass also sees.
    """

    pin_means = False  # set by CheckerboardGroups

    def __init__(self, M, G, prev, channel=True, local=True, side=0, glob=False):
        super().__init__()
        self.M, self.G, self.prev = M, G, prev
        self.cc = ChannelContext(prev, 2 * G) if channel and prev > 0 else None
        self.lc = conv(G, 2 * G, stride=1, kernel_size=5) if local else None
        # Attention also reads the group's hyper scales, means and anchor errors.
        self.gc = GlobalContext(2 * G, extra=3 * G) if glob else None
        in_ch = 2 * M + (2 * G if self.cc is not None else 0) + (2 * G if local else 0) + side
        self.ep = EntropyParameters(in_ch, G)

    def params(self, hyper, y_prev, anchors, side=None):
        """anchors: the group's decoded anchors with non-anchors zeroed, or
        None for the anchor pass (local context then is zero)."""
        parts = [hyper] + ([side] if side is not None else [])
        s = slice(self.prev, self.prev + self.G)
        scales, means = hyper[:, :self.M][:, s], hyper[:, self.M:][:, s]  # this group's
        if self.cc is not None:
            parts.append(self.cc(y_prev))
        if self.lc is not None:
            if anchors is None:
                B, _, h, w = hyper.shape
                parts.append(hyper.new_zeros(B, 2 * self.G, h, w))
            else:
                lc = self.lc(anchors)
                if self.gc is not None:
                    m_a = anchor_mask(*anchors.shape[-2:], device=anchors.device)
                    lc = self.gc(lc, torch.cat([scales, means, (anchors - means) * m_a], 1))
                parts.append(lc)
        d_scales, d_means = self.ep(torch.cat(parts, 1))
        if self.pin_means:
            # Means stay h_s's: y_hat, and so the decoded frame, is the base package's.
            return scales + d_scales, means
        return scales + d_scales, means + d_means


def init_heads(groups, init, keep=()):
    """Starts a new run's heads from another run's: config "init" =
    {"ckpt": trainer checkpoint, "from": {variant: its variant}}. `groups` is
    [(prefix, heads)]: `heads` maps variant -> head, `prefix` is the checkpoint's
    key prefix before the variant ("" for the intra trainer; the P-frame trainer
    keys heads by latent first). Parameters whose names start with one of `keep`
    stay as they are. Every other parameter must come from the checkpoint with
    the same shape, except a global context the source lacks (it starts as an
    identity: GlobalContext). Returns the checkpoint."""
    ck = torch.load(init["ckpt"], map_location="cpu", weights_only=False)
    for prefix, heads in groups:
        for v, h in heads.items():
            if v not in init["from"]:
                continue
            src = f"{prefix}{init['from'][v]}."
            own = h.state_dict()
            for k in own:
                if k.startswith(tuple(keep)):
                    continue
                t = ck["heads"].get(src + k)
                if t is None and ".gc." in k:
                    continue
                assert t is not None and t.shape == own[k].shape, f"{v}.{k}: no tensor {src + k} of its shape"
                own[k] = t
            h.load_state_dict(own)
    return ck


def param_groups(named, lr, gc_lr=None):
    """Adam groups: the global context's own learning rate (`gc_lr`, default
    `lr`) apart from the rest, since it starts at zero beside trained layers."""
    named = list(named)
    rest = [p for n, p in named if ".gc." not in n]
    gc = [p for n, p in named if ".gc." in n]
    return [{"params": rest, "lr": lr}] + ([{"params": gc, "lr": gc_lr or lr}] if gc else [])


def set_lrs(opt, lr, gc_lr=None):
    """After a resume: the config's rates win over the checkpoint's."""
    for i, g in enumerate(opt.param_groups):
        g["lr"] = lr if i == 0 else (gc_lr or lr)


def ste_round(v, means):
    """round(v - means) + means with a straight-through gradient."""
    return v + (torch.round(v - means) + means - v).detach()


def hard_round(v, means):
    """round(v - means) + means with the gradient of the means only: what a
    distortion term can teach the entropy model (with the transforms frozen,
    the means decide where the quantization grid sits)."""
    return torch.round(v - means).detach() + means


class CheckerboardGroups(nn.Module):
    """Entropy model of y given the hyper feature: groups x two passes.

    variant: "hyperprior" (h_s's own scales/means, no context: the baseline
    retrained under the same conditions), "groups" (channel context only),
    "checkerboard" (channel + local checkerboard context), "checkerboard+global"
    (+ the global context of the non-anchor pass), "checkerboard+side"
    (also features of a side image, forward's `side_img`, in every pass).

    pin_means: the contexts correct only the scales and h_s is frozen, so the
    quantization grid (y_hat) stays the base package's and the decoded frames
    are unchanged: the gain is pure rate. (Moving the means trades quality for
    rate per frame, which in a P-frame chain also degrades every later
    reference: measured +0.4 % GoP BD-rate where single steps looked -5 %.)
    """

    SIDE_CH = 32

    def __init__(self, N=64, M=96, groups=GROUPS, variant="checkerboard", pin_means=False):
        super().__init__()
        assert sum(groups) == M, f"groups {groups} do not add up to M={M}"
        self.N, self.M, self.groups, self.variant = N, M, tuple(groups), variant
        self.h_s = hyper_synthesis(N, M)
        self.gaussian_conditional = GaussianConditional(None)
        self.side = SideFeatures(self.SIDE_CH) if variant.endswith("+side") else None
        if variant == "hyperprior":
            self.ctx = None
        else:
            local = variant.startswith("checkerboard")
            glob = "+global" in variant
            side = self.SIDE_CH if self.side is not None else 0
            starts = [sum(groups[:k]) for k in range(len(groups))]
            self.ctx = nn.ModuleList(GroupContext(M, G, s, channel=True, local=local, side=side, glob=glob)
                                     for G, s in zip(groups, starts))
            for g in self.ctx:
                g.pin_means = pin_means
        self.pin_means = pin_means

    @torch.no_grad()
    def unpin(self):
        """Let the contexts move the means from here on: their mean corrections
        (computed but unused while pinned) start at zero, so the head codes
        exactly as before until training moves them."""
        for g in self.ctx or []:
            last = g.ep.net[-1]
            last.weight[g.G:].zero_()
            last.bias[g.G:].zero_()
            g.pin_means = False
        self.pin_means = False

    def global_spec(self):
        """GlobalContext.spec() of the heads' non-anchor passes, or None without one."""
        gc = self.ctx[0].gc if self.ctx is not None else None
        return gc.spec() if gc is not None else None

    def forward(self, yg, z_hat, side_img=None, ste=False):
        """Training/eval: likelihoods of yg and y_hat (gained domain, with
        gradients to the means: see hard_round; ste: also to yg, for
        transforms that train with the heads).

        Parameters of each pass see straight-through rounded latents, as the
        decoder will; likelihoods use CompressAI's noise in training mode.
        """
        hyper = self.h_s(z_hat)
        if self.ctx is None:
            scales, means = hyper.chunk(2, 1)
            _, lik = self.gaussian_conditional(yg, scales, means=means)
            return lik, (ste_round if ste else hard_round)(yg, means)
        B, _, h, w = yg.shape
        m_a = anchor_mask(h, w, yg.device)
        side = self.side(side_img) if self.side is not None else None
        liks, hats, outs = [], [], []
        for k, y_k in enumerate(yg.split(self.groups, 1)):
            y_prev = torch.cat(hats, 1) if hats else None
            g = self.ctx[k]
            s_a, mu_a = g.params(hyper, y_prev, None, side)
            hat_a = ste_round(y_k, mu_a) * m_a
            if g.lc is not None:
                s_n, mu_n = g.params(hyper, y_prev, hat_a, side)
            else:
                s_n, mu_n = s_a, mu_a
            scales = s_a * m_a + s_n * (1 - m_a)
            means = mu_a * m_a + mu_n * (1 - m_a)
            _, lik = self.gaussian_conditional(y_k, scales, means=means)
            liks.append(lik)
            hats.append(ste_round(y_k, means))
            outs.append((ste_round if ste else hard_round)(y_k, means))
        return torch.cat(liks, 1), torch.cat(outs, 1)
