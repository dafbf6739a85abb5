"""Mean-scale hyperprior for 1-channel solar frames, with per-quality gains.

Architecture follows Minnen et al. 2018 / CompressAI's ``MeanScaleHyperprior``
(g_a: four stride-2 5x5 convs with GDN, /16; h_a: one 3x3 + two stride-2 5x5,
/4 more; h_s mirrors h_a and outputs scales and means for a Gaussian
conditional on y). On top of it, the "asymmetric gained VAE" of Cui et al.
2021: learnable per-quality channel gains ``gain[q]`` before quantization and
``inv_gain[q]`` after, so one set of transforms serves Q rate points and the
training compute is shared instead of spent on Q separate models.

Coding (also the contract in models/PACKAGE.md):
    y = g_a(x); yg = y * gain[q]; z = h_a(yg)
    z_hat = round(z - medians) + medians; scales, means = h_s(z_hat)
    y_hat = round(yg - means) + means;  x_hat = g_s(y_hat * inv_gain[q])
"""

import math

import torch
import torch.nn as nn

from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models import CompressionModel
from compressai.models.utils import conv, deconv

# CompressAI's default scale table (64 log-spaced scales, 0.11 .. 256).
SCALES_MIN, SCALES_MAX, SCALES_LEVELS = 0.11, 256, 64


def get_scale_table(min=SCALES_MIN, max=SCALES_MAX, levels=SCALES_LEVELS):
    return torch.exp(torch.linspace(math.log(min), math.log(max), levels))


class GainedMeanScaleHyperprior(CompressionModel):
    means_grad = False  # see forward()

    def __init__(self, N=64, M=96, lambdas=(0.0018, 0.0067, 0.025, 0.0932, 0.18, 0.36),
                 in_ch=1, out_ch=1):
        super().__init__()
        self.N, self.M = N, M
        self.lambdas = list(lambdas)
        Q = len(self.lambdas)

        self.g_a = nn.Sequential(
            conv(in_ch, N), GDN(N),
            conv(N, N), GDN(N),
            conv(N, N), GDN(N),
            conv(N, M),
        )
        self.g_s = nn.Sequential(
            deconv(M, N), GDN(N, inverse=True),
            deconv(N, N), GDN(N, inverse=True),
            deconv(N, N), GDN(N, inverse=True),
            deconv(N, out_ch),
        )
        self.h_a = nn.Sequential(
            conv(M, N, stride=1, kernel_size=3), nn.LeakyReLU(inplace=True),
            conv(N, N), nn.LeakyReLU(inplace=True),
            conv(N, N),
        )
        self.h_s = nn.Sequential(
            deconv(N, M), nn.LeakyReLU(inplace=True),
            deconv(M, M * 3 // 2), nn.LeakyReLU(inplace=True),
            conv(M * 3 // 2, M * 2, stride=1, kernel_size=3),
        )

        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)

        # Gains are stored as logs so they stay positive. Initialise them
        # spread like sqrt(lambda): at high rate the optimal quantizer step
        # scales as lambda^-1/2, so the q levels start near their own rate
        # points instead of all at the same one (Adam at 1e-4 would need
        # tens of thousands of steps to pull them apart from ones).
        lam = torch.tensor(self.lambdas, dtype=torch.float32)
        init = 0.5 * torch.log(lam / lam.log().mean().exp())
        self.log_gain = nn.Parameter(init[:, None].repeat(1, M).clone())
        self.log_inv_gain = nn.Parameter(-init[:, None].repeat(1, M).clone())

    @property
    def num_qualities(self):
        return len(self.lambdas)

    def gain(self, q):
        return torch.exp(self.log_gain[q])

    def inv_gain(self, q):
        return torch.exp(self.log_inv_gain[q])

    def forward(self, x, q):
        """Training/eval pass at quality index q (0-based, int).

        The same class codes the SSF motion (in_ch=2, out_ch=3) and residual
        latents (models/ssf.py): only the channel counts differ.

        The Gaussian likelihood uses additive uniform noise in training (the
        usual rate proxy), but g_s sees straight-through rounded latents
        (Minnen & Singh 2020 "mixed" quantization), so the decoder is trained
        on exactly what the codec will feed it.
        """
        g = self.gain(q)[None, :, None, None]
        ig = self.inv_gain(q)[None, :, None, None]
        yg = self.g_a(x) * g
        z = self.h_a(yg)
        z_hat, z_lik = self.entropy_bottleneck(z)
        scales, means = self.h_s(z_hat).chunk(2, 1)
        _, y_lik = self.gaussian_conditional(yg, scales, means=means)
        if self.means_grad:
            # Transforms frozen (entropy-model-only training): let the distortion
            # reach the means, which then decide where the quantization grid sits.
            y_hat = torch.round(yg - means).detach() + means
        else:
            y_hat = yg + (torch.round(yg - means) + means - yg).detach()
        x_hat = self.g_s(y_hat * ig)
        return {"x_hat": x_hat, "likelihoods": {"y": y_lik, "z": z_lik}}

    @torch.no_grad()
    def decoder_input(self, x, q):
        """What the codec feeds g_s at quality index q: y_hat * inv_gain, with z
        rounded around its medians and y around the hyperprior's means (hard
        rounding, as decoded; for training a decoder on a frozen encoder)."""
        yg = self.g_a(x) * self.gain(q)[None, :, None, None]
        z = self.h_a(yg)
        med = self.entropy_bottleneck.quantiles[:, 0, 1][None, :, None, None]
        _, means = self.h_s(torch.round(z - med) + med).chunk(2, 1)
        return (torch.round(yg - means) + means) * self.inv_gain(q)[None, :, None, None]

    def update(self, scale_table=None, force=False, update_quantiles=False):
        if scale_table is None:
            scale_table = get_scale_table()
        return super().update(scale_table=scale_table, force=force,
                              update_quantiles=update_quantiles)

    def main_parameters(self):
        return [p for n, p in self.named_parameters()
                if not n.endswith(".quantiles") and "gain" not in n]

    def gain_parameters(self):
        return [self.log_gain, self.log_inv_gain]

    def aux_parameters(self):
        return [p for n, p in self.named_parameters() if n.endswith(".quantiles")]
