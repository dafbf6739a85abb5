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

With --residuals --decoded, what a decoder could use: the other band's error
as its decoder has it (its decoded residual, x_hat - pred, at qualities 2, 4
and 6; residual latents rounded as the codec does, hyperprior model), beside
the bits this band's residual costs at that quality: the bound above is only
worth having where it is a sizeable share of those bits.

With --ccp, the simplest tool that would use it, cross-component residual
prediction as in HEVC's range extensions: band k's prediction plus alpha times
band 171's decoded residual, one alpha per BxB block (quarter steps of the
frame's least-squares gain, |alpha| <= 2 gains, 0 where it does not lower the
block's squared error), band k's residual then coded by the residual
networks: bits (+ the alphas' entropy + 16) and MSE against plain P-frames,
summed over the 12 instants.

    python -m models.xband_prediction [--package models/ssf-lowres] [--residuals [--decoded] | --ccp]
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
    ap.add_argument("--decoded", action="store_true")
    ap.add_argument("--ccp", action="store_true")
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

    def code(x, ref, q):
        # Pred, decoded residual and residual bits per pixel (y + z) at quality index q.
        H, W = x.shape
        X, R = pad_to(torch.from_numpy(x)[None, None]), pad_to(torch.from_numpy(ref)[None, None])
        with torch.no_grad():
            R = apply_gain(R, reference_gain(X[..., :H, :W], R[..., :H, :W]))
            out = model(X, R, q)
        lik = out["likelihoods"]
        bits = sum(float(-torch.log2(lik[k]).sum()) for k in ("r_y", "r_z"))
        pred = out["pred"][0, 0, :H, :W].numpy()
        return pred, out["x_hat"][0, 0, :H, :W].numpy() - pred, bits / (H * W)

    def residual_bits(x, pred, q):
        H, W = x.shape
        with torch.no_grad():
            r = model.residual(pad_to(torch.from_numpy((x - pred).astype(np.float32))[None, None]), q)
        bits = sum(float(-torch.log2(lik).sum()) for lik in r["likelihoods"].values())
        return pred + r["x_hat"][0, 0, :H, :W].numpy(), bits

    mse = lambda e: float(np.mean(e ** 2)) * 255 ** 2
    if a.ccp:
        tot = {}
        for t in range(1, 13):
            for q in (0, 2, 5):
                c = {wl: code(frame(wl, t), frame(wl, t - 1), q) for wl in ("171", "193", "304")}
                r0 = c["171"][1]
                for wl in ("193", "304"):
                    x, pred = frame(wl, t), c[wl][0]
                    e = x - pred
                    step = max(abs(float((e * r0).sum() / max((r0 * r0).sum(), 1e-20))), 1e-6) / 4
                    x0, b0 = residual_bits(x, pred, q)
                    for B in (16, 32, 64):
                        alpha, syms = np.zeros_like(x), []
                        for i in range(0, x.shape[0], B):
                            for j in range(0, x.shape[1], B):
                                eb, fb = e[i:i + B, j:j + B], r0[i:i + B, j:j + B]
                                k = int(np.clip(np.round((eb * fb).sum() / max((fb * fb).sum(), 1e-20) / step), -8, 8))
                                if ((eb - k * step * fb) ** 2).sum() >= (eb ** 2).sum():
                                    k = 0
                                syms.append(k)
                                alpha[i:i + B, j:j + B] = k * step
                        x1, b1 = residual_bits(x, pred + alpha * r0, q)
                        _, n = np.unique(syms, return_counts=True)
                        side = float(-(n * np.log2(n / n.sum())).sum()) + 16
                        s = tot.setdefault((wl, q, B), np.zeros(5))
                        s += (b0, b1 + side, side, mse(x - x0), mse(x - x1))
        print("| band | quality | block | bits, P | bits, P + alpha x 171's residual (alphas) | bits | PSNR |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for (wl, q, B), s in sorted(tot.items()):
            print(f"| {wl} | {q + 1} | {B} | {s[0] / 12:.0f} | {s[1] / 12:.0f} ({s[2] / 12:.0f}) "
                  f"| {100 * (s[1] / s[0] - 1):+.1f} % | {10 * np.log10(s[3] / s[4]):+.2f} dB |")
        return
    if a.residuals and a.decoded:
        bands = ("171", "193", "304")
        print("| t | band | from | quality | R^2 16x16 blocks, other's decoded residual | at most, bits per sample | residual bits per sample |")
        print("|---:|---|---|---:|---:|---:|---:|")
        for t in range(1, 13):
            for q in (1, 3, 5):
                c = {wl: code(frame(wl, t), frame(wl, t - 1), q) for wl in bands}
                for wl, other in (("193", "171"), ("304", "171")):
                    err = frame(wl, t) - c[wl][0]
                    _, local = explained(err, c[other][1])
                    print(f"| {t} | {wl} | {other} | {q + 1} | {local:.3f} | {-0.5 * np.log2(1 - local):.3f} "
                          f"| {c[wl][2]:.4f} |", flush=True)
        return
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
