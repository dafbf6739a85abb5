"""Scale-space-flow P-frame model (Agustsson et al. 2020; source paper III.A).

A P-frame x is predicted from the previous decoded frame `ref`:

    motion:   y_m = m_g_a([x, ref])  -> gained hyperprior -> flow = m_g_s(y_m_hat)
              flow = (fx, fy, fs, lg): displacement in pixels, a scale index
              and a log intensity gain
    warp:     pred = exp(lg) * trilinear sample of the scale-space volume
              [ref, blur(ref, s0), blur(ref, 2 s0), ...] at (x + fx, y + fy, fs)
    residual: y_r = r_g_a(x - pred) -> gained hyperprior -> x_hat = pred + r_g_s(y_r_hat)

Each latent is a `GainedMeanScaleHyperprior` (models/hyperprior.py) with its
own per-quality gains, so one P model serves all the intra model's quality
levels. The scale field lets the model blur where motion cannot be predicted
(noise, new structure), which matters on photon-noisy solar frames: a sharp
warp of a noisy reference copies its noise into the prediction.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from compressai.layers import GDN
from compressai.models.utils import conv, deconv

from models.hyperprior import GainedMeanScaleHyperprior


GAIN_ONE = 4096  # global reference gain is sent as round(g * 4096) in a u16


def reference_gain(x, ref):
    """Least-squares global gain g (x ~ g * ref), per sample, quantized as
    codec-core sends it. The exposure ratio between AIA frames (up to ~10x
    in DN, ~3x after the sqrt) is one number per frame: sending it costs 2
    bytes and lifts the copy prediction on the held-out AIA 171 pairs from
    17-28 dB to 36-44 dB before any network runs."""
    dims = tuple(range(1, x.dim()))
    num = (x.double() * ref.double()).sum(dims)
    den = (ref.double() ** 2).sum(dims)
    g = torch.where(den > 0, num / den.clamp_min(1e-30), torch.ones_like(num))
    q = torch.round(g * GAIN_ONE).clamp(1, 65535)
    return (q / GAIN_ONE).float().view(-1, *([1] * (x.dim() - 1)))


def apply_gain(ref, g):
    """The reference the P networks see: g * ref, saturating at 1 like the detector."""
    return (ref * g).clamp(0.0, 1.0)


def gaussian_kernel(sigma):
    r = int(math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


class ScaleSpaceWarp(nn.Module):
    """Scale-space volume of `ref` and its trilinear sampling.

    Level 0 is ref itself, level l >= 1 is ref blurred with a Gaussian of
    sigma0 * 2^(l-1) (separable, edge-replicated). Exact blurs rather than
    CompressAI's downsample-blur-upsample: a 73-tap separable kernel at
    sigma 12 costs ~150 MACs/pixel, nothing beside the networks' ~20 k.
    """

    def __init__(self, levels=5, sigma0=1.5):
        super().__init__()
        self.levels = levels
        self.sigmas = [sigma0 * 2 ** (l - 1) for l in range(1, levels)]
        for i, s in enumerate(self.sigmas):
            self.register_buffer(f"k{i}", gaussian_kernel(s), persistent=False)

    def volume(self, ref):
        out = [ref]
        for i in range(len(self.sigmas)):
            k = getattr(self, f"k{i}")
            r = (k.numel() - 1) // 2
            v = F.conv2d(F.pad(ref, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
            v = F.conv2d(F.pad(v, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
            out.append(v)
        return torch.stack(out, dim=2)  # [B, 1, L, H, W]

    def forward(self, ref, flow):
        B, _, H, W = ref.shape
        vol = self.volume(ref)
        fx, fy, fs = flow[:, 0], flow[:, 1], flow[:, 2]
        xs = torch.arange(W, dtype=ref.dtype, device=ref.device).view(1, 1, W)
        ys = torch.arange(H, dtype=ref.dtype, device=ref.device).view(1, H, 1)
        # align_corners=True: -1 and 1 are the centres of the edge pixels /
        # the first and last scale level; outside, "border" clamps.
        gx = 2 * (xs + fx) / (W - 1) - 1
        gy = 2 * (ys + fy) / (H - 1) - 1
        gs = 2 * fs / (self.levels - 1) - 1
        grid = torch.stack([gx, gy, gs], dim=-1).unsqueeze(1)  # [B, 1, H, W, 3]
        pred = F.grid_sample(vol, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return pred[:, :, 0]


class ScaleSpaceFlow(nn.Module):
    def __init__(self, lambdas, N=64, M_motion=64, M_residual=96, levels=5, sigma0=1.5,
                 flow_stride=1):
        super().__init__()
        self.lambdas = list(lambdas)
        self.motion = GainedMeanScaleHyperprior(N, M_motion, lambdas, in_ch=2, out_ch=4)
        self.flow_stride = flow_stride
        if flow_stride == 4:
            # Flow at 1/4 resolution, upsampled bilinearly. Solar motion (rotation,
            # slow evolution, exposure) is smooth, the motion latent is 0-3 % of a
            # P-frame's bits, and the two full-size deconvs this drops were 3/4 of
            # the decoder's predict time (models/ssf-lowres/MODEL_CARD.md).
            self.motion.g_s = nn.Sequential(
                deconv(M_motion, N), GDN(N, inverse=True),
                deconv(N, N), GDN(N, inverse=True),
                conv(N, 4, stride=1, kernel_size=3),
            )
        elif flow_stride != 1:
            raise ValueError(f"flow_stride {flow_stride}: 1 or 4")
        self.residual = GainedMeanScaleHyperprior(N, M_residual, lambdas)
        self.warp = ScaleSpaceWarp(levels, sigma0)
        # Start from "copy the reference": zero flow at scale 0. Solar frames
        # 12-36 s apart move by a fraction of a pixel, so this is already a
        # good predictor and the motion path only has to learn corrections.
        last = self.motion.g_s[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    @property
    def num_qualities(self):
        return len(self.lambdas)

    def upsample_flow(self, flow):
        """The motion decoder's output at full resolution (flow_stride 4: bilinear,
        half-pixel centres; displacements are already in full-size pixels)."""
        if self.flow_stride == 1:
            return flow
        return F.interpolate(flow, scale_factor=self.flow_stride, mode="bilinear", align_corners=False)

    def predict(self, ref, flow):
        lg = flow[:, 3:4].clamp(-3.0, 3.0)
        return self.warp(ref, flow[:, :3]) * torch.exp(lg)

    def forward(self, x, ref, q):
        """`ref` is the reference after the global gain (`apply_gain`)."""
        m = self.motion(torch.cat([x, ref], 1), q)
        flow = self.upsample_flow(m["x_hat"])
        pred = self.predict(ref, flow)
        r = self.residual(x - pred, q)
        x_hat = pred + r["x_hat"]
        lik = {"m_y": m["likelihoods"]["y"], "m_z": m["likelihoods"]["z"],
               "r_y": r["likelihoods"]["y"], "r_z": r["likelihoods"]["z"]}
        return {"x_hat": x_hat, "pred": pred, "flow": flow, "likelihoods": lik}

    def aux_loss(self):
        return self.motion.aux_loss() + self.residual.aux_loss()

    def update(self, force=False, update_quantiles=False):
        return (self.motion.update(force=force, update_quantiles=update_quantiles)
                | self.residual.update(force=force, update_quantiles=update_quantiles))

    def main_parameters(self):
        return self.motion.main_parameters() + self.residual.main_parameters()

    def gain_parameters(self):
        return self.motion.gain_parameters() + self.residual.gain_parameters()

    def aux_parameters(self):
        return self.motion.aux_parameters() + self.residual.aux_parameters()
