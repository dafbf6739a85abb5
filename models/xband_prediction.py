"""Would bi-prediction help multispectral GoPs (issue 9)? For each real AIA band
at a few instants of the flare set, the P networks' prediction from the band's
own previous frame (P), from another band at the same instant (X, as X-frames
do), and their least-squares blend w*P + (1-w)*X, as a two-reference frame type
would form it: prediction MSE (8-bit display scale), the blend weight, and the
correlation of the two prediction errors. Originals as references, quality 4.

    python -m models.xband_prediction [--package models/ssf-lowres]
"""

import argparse

import numpy as np
import torch
from PIL import Image

from models.data import to_t
from models.package import load_ssf
from models.ssf import apply_gain, reference_gain
from models.train import pad_to

FLARE = "/work/shared/data/aia-flare-20120719"


def frame(wl, i):
    return to_t(np.array(Image.open(f"{FLARE}/{wl}/frame_{i:02d}.png")), "dn14").astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default="models/ssf-lowres")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, _ = load_ssf(a.package)
    model.eval()
    model.use_gain = True

    def predict(x, ref, q=3):
        H, W = x.shape
        X, R = pad_to(torch.from_numpy(x)[None, None]), pad_to(torch.from_numpy(ref)[None, None])
        with torch.no_grad():
            R = apply_gain(R, reference_gain(X[..., :H, :W], R[..., :H, :W]))
            return model(X, R, q)["pred"][0, 0, :H, :W].numpy()

    mse = lambda e: float(np.mean(e ** 2)) * 255 ** 2
    print("| band | from | t | MSE P | MSE X | MSE blend | w_P | error correlation | blend vs best |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for wl, other in (("193", "171"), ("304", "171"), ("171", "193")):
        for t in (2, 5, 8, 11):
            x = frame(wl, t)
            pp, px = predict(x, frame(wl, t - 1)), predict(x, frame(other, t))
            d, e = (pp - px).ravel(), (x - px).ravel()
            w = float(d @ e / (d @ d))
            eb = x - (w * pp + (1 - w) * px)
            corr = float(np.corrcoef((x - pp).ravel(), (x - px).ravel())[0, 1])
            best = min(mse(x - pp), mse(x - px))
            print(f"| {wl} | {other} | {t} | {mse(x - pp):.2f} | {mse(x - px):.2f} | {mse(eb):.2f} | {w:.2f} "
                  f"| {corr:.2f} | {10 * np.log10(best / mse(eb)):+.2f} dB |", flush=True)


if __name__ == "__main__":
    main()
