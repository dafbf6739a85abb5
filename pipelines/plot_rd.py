"""RD curves (and per-frame PSNR across a GoP) from helio-eval's CSV output.

    .venv/bin/python pipelines/plot_rd.py --csv out/results.csv --out docs/rd [--per-frame out/frames.csv]

Writes <out>-<mode>-psnr.png and <out>-<mode>-msssim.png for every mode in the
CSV (display8, dn16), one curve per codec, and with --per-frame
<out>-gop-psnr.png: PSNR of every frame in coding order, one line per codec
and setting, so drift across a GoP (and the jump at each keyframe) is visible.
Needs matplotlib (in models/requirements-train.txt).
"""

import argparse
import csv
import math
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Anchors dashed, helio solid, so the product's curves stand out.
STYLE = {"helio": "-o", "helio-gop30": "-s"}


def read(path):
    return list(csv.DictReader(open(path)))


def rd_plots(rows, out):
    by_mode = defaultdict(lambda: defaultdict(list))
    for r in rows:
        try:
            bpp, psnr = float(r["bpp"]), float(r["psnr_db"])
        except (KeyError, ValueError):
            continue
        if not math.isfinite(psnr):  # lossless references
            continue
        ms = float(r["ms_ssim"]) if r.get("ms_ssim") else float("nan")
        by_mode[r["mode"]][r["codec"]].append((bpp, psnr, ms))
    written = []
    for mode, codecs in by_mode.items():
        for metric, col, label in [("psnr", 1, "PSNR (dB)"), ("msssim", 2, "MS-SSIM (dB)")]:
            fig, ax = plt.subplots(figsize=(7, 5))
            for codec, pts in sorted(codecs.items()):
                pts = sorted(pts)
                ys = [p[col] if col == 1 else -10 * math.log10(max(1 - p[col], 1e-10)) for p in pts]
                if col == 2 and not all(math.isfinite(y) for y in ys):
                    continue
                ax.plot([p[0] for p in pts], ys, STYLE.get(codec, "--x"), label=codec)
            ax.set_xscale("log")
            ax.set_xlabel("bits per pixel (log)")
            ax.set_ylabel(label + (" , 8-bit display domain" if mode == "display8" else ""))
            ax.set_title(f"{mode}: rate-distortion")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
            path = f"{out}-{mode}-{metric}.png"
            fig.tight_layout()
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written


def gop_plot(rows, out):
    lines = defaultdict(list)
    for r in rows:
        lines[(r["mode"], r["codec"], r["setting"])].append((int(r["frame"]), float(r["psnr_db"]),
                                                            r.get("frame_type", r.get("type", ""))))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (mode, codec, setting), pts in sorted(lines.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], STYLE.get(codec, "--"),
                label=f"{codec} {setting} ({mode})", markersize=3)
        keys = [p for p in pts if p[2] == "I"]
        if keys:
            ax.plot([p[0] for p in keys], [p[1] for p in keys], "k|", markersize=12)
    ax.set_xlabel("frame (coding order); | marks I-frames")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("PSNR per frame across GoPs")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    path = f"{out}-gop-psnr.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True, help="helio-eval results CSV")
    ap.add_argument("--out", required=True, help="output path prefix")
    ap.add_argument("--per-frame", help="helio-eval per-frame CSV (mode,codec,setting,frame,frame_type,bytes,bpp,psnr_db)")
    a = ap.parse_args()
    written = rd_plots(read(a.csv), a.out)
    if a.per_frame:
        written += gop_plot(read(a.per_frame), a.out)
    for p in written:
        print("wrote", p)


if __name__ == "__main__":
    main()
