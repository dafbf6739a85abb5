"""A narrower synthesis transform for the intra decoder.

g_s of models/hyperprior (Minnen 2018: four stride-2 5x5 deconvs, IGDN
between) spends about 2/3 of its MACs in the deconv from 1/4 to 1/2
resolution, and g_s is 70 % of an I-frame's decode time on these CPUs. This
is the same stack with the layers at 1/2 resolution narrowed from N to
`half` channels: that deconv, the IGDN after it and the last deconv's input.
Layer indices match g_s's, so packages, models/package.py and the exporter
treat it as a g_s. It decodes the same latents: only the decoder changes.
"""

import torch
import torch.nn as nn

from compressai.layers import GDN
from compressai.models.utils import deconv


class NarrowSynthesis(nn.Sequential):
    def __init__(self, N=64, M=96, half=32, out_ch=1):
        super().__init__(
            deconv(M, N), GDN(N, inverse=True),
            deconv(N, N), GDN(N, inverse=True),
            deconv(N, half), GDN(half, inverse=True),
            deconv(half, out_ch),
        )
        self.half = half

    @torch.no_grad()
    def init_from(self, g_s, y_hat):
        """Start from a full-width g_s: copy its first four layers, keep the
        `half` channels at 1/2 resolution that carry most of the output
        (activation RMS on y_hat times the norm of their last-layer weights)."""
        for i in range(4):
            self[i].load_state_dict(g_s[i].state_dict())
        a = g_s[:6](y_hat)
        score = a.pow(2).mean((0, 2, 3)).sqrt() * g_s[6].weight.flatten(1).norm(dim=1)
        keep = score.argsort(descending=True)[: self.half].sort().values
        # ConvTranspose weights are [in, out, k, k].
        self[4].weight.copy_(g_s[4].weight[:, keep])
        self[4].bias.copy_(g_s[4].bias[keep])
        gdn, src = self[5], g_s[5]
        beta = src.beta_reparam(src.beta)[keep]
        gamma = src.gamma_reparam(src.gamma)[keep][:, keep]
        gdn.beta.copy_(gdn.beta_reparam.init(beta))
        gdn.gamma.copy_(gdn.gamma_reparam.init(gamma))
        self[6].weight.copy_(g_s[6].weight[keep])
        self[6].bias.copy_(g_s[6].bias)
        return keep
