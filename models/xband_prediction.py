"""Would bi-prediction help multispectral GoPs (issue 9)? For each real AIA band
at a few instants of the flare set, the P networks' prediction from the band's
own previous frame (P), from another band at the same instant (X, as X-frames
do), and their least-squares blend w*P + (1-w)*X, as a two-reference frame type
would form it: prediction MSE (8-bit display scale), the blend weight, and the
correlation of the two prediction errors. Originals as references, quality 4.

With --residuals, what a cross-band residual model could use at best: each
band's temporal prediction error (the P networks, its own previous frame) at
every instant, and how much of it another band's error at the same instant
explains (R^2 of a least-squares fit: one gain for the frame, or one per 16x16
block with the block means removed, an upper bound for a local model that
would also have to signal or learn those gains). For a Gaussian residual a
fraction R^2 explained saves at most -0.5 log2(1 - R^2) bits per coded sample.

    python -m models.xband_prediction [--package models/ssf-lowres] [--residuals]
"""

import argparse

import numpy as np
import torch
from PIL import Image

from models.data import DATA_DIR, data_source, to_t
from models.package import load_ssf
from models.ssf import apply_gain, reference_gain
from models.train import pad_to


def frame(wl, i):
    # ../shared's flare set, else the repo's copies of its three bands.
    root, folder = data_source(f"aia-flare-20120719/{wl}", DATA_DIR)
    x = to_t(np.array(Image.open(f"{root}/{folder}/frame_{i:02d}.png")), "dn14").astype(np.float32)
    return x[:500, :370]  # 171 is 501x371, 193 and 304 500x370


def explained(e, f, block=16):
    """R^2 of e fitted by g * f (+ offset): one g for the frame, and one per
    block with block means removed."""
    e, f = e.astype(np.float64), f.astype(np.float64)
    A = np.stack([f.ravel(), np.ones(f.size)], 1)
    fit = A @ np.linalg.lstsq(A, e.ravel(), rcond=None)[0]
    whole = 1 - np.mean((e.ravel() - fit) ** 2) / e.var()
    H, W = (s - s % block for s in e.shape)
    tiles = lambda a: a[:H, :W].reshape(H // block, block, W // block, block).swapaxes(1, 2).reshape(-1, block * block)
    te, tf = tiles(e), tiles(f)
    te, tf = te - te.mean(1, keepdims=True), tf - tf.mean(1, keepdims=True)
    g = (te * tf).sum(1) / np.maximum((tf * tf).sum(1), 1e-20)
    local = 1 - ((te - g[:, None] * tf) ** 2).sum() / (te ** 2).sum()
    return whole, local


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default="models/ssf-lowres")
    ap.add_argument("--residuals", action="store_true")
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
    if a.residuals:
        bands = ("171", "193", "304")
        print("| t | band | from | residual RMS (8-bit) | R^2 frame | R^2 16x16 blocks | at most, bits per coded sample |")
        print("|---:|---|---|---:|---:|---:|---:|")
        for t in range(1, 13):
            err = {wl: frame(wl, t) - predict(frame(wl, t), frame(wl, t - 1)) for wl in bands}
            for wl, other in (("171", "193"), ("193", "171"), ("304", "171"), ("171", "304")):
                whole, local = explained(err[wl], err[other])
                print(f"| {t} | {wl} | {other} | {255 * err[wl].std():.2f} | {whole:.3f} | {local:.3f} "
                      f"| {-0.5 * np.log2(1 - local):.3f} |", flush=True)
        return
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
