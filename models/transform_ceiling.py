"""How far an intra package's transforms can go: display PSNR of g_s(g_a(x))
with the latent left unquantized (y * gain * inv_gain, as the codec scales it)
beside the rounded latent, per quality, on held-out AIA 171 frames. If the
top quality's rounded PSNR is near the unquantized one, more bits (a higher
lambda, a new quality level) cannot raise quality: the transforms must learn.

    python -m models.transform_ceiling [--package models/hyperprior] [--frames 0 4 8 12]
"""

import argparse

import numpy as np
import torch

from models.data import load_val_frames
from models.export import psnr8
from models.package import load_hyperprior
from models.train import pad_to


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default="models/hyperprior")
    ap.add_argument("--frames", type=int, nargs="+", default=[0, 4, 8, 12])
    a = ap.parse_args()
    torch.set_num_threads(1)
    base, _ = load_hyperprior(a.package)
    base.eval()
    frames = load_val_frames(indices=a.frames)
    print(f"{a.package}, AIA 171 frames {a.frames}, 8-bit display PSNR (dB)")
    print("| quality | rounded latent | unquantized latent |")
    print("|---|---:|---:|")
    with torch.no_grad():
        for q in range(base.num_qualities):
            g = base.gain(q)[None, :, None, None]
            ig = base.inv_gain(q)[None, :, None, None]
            r, u = [], []
            for _, t in frames:
                x = pad_to(torch.from_numpy(t)[None, None], 64)
                H, W = t.shape
                y = base.g_a(x)
                for out, yy in ((r, torch.round(y * g) * ig), (u, y * g * ig)):
                    out.append(psnr8(base.g_s(yy)[0, 0, :H, :W].clamp(0, 1).numpy(), t))
            print(f"| {q + 1} | {np.mean(r):.2f} | {np.mean(u):.2f} |")


if __name__ == "__main__":
    main()
