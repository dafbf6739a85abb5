"""Milliseconds of a package's context passes (cg{k}_a, cg{k}_n), as the codec
runs them: one thread, each graph at the optimization level model.json asks
for, on random inputs of a 512x512 frame's latent (32x32). Rounds alternate the
packages, so a busy machine slows them alike.

    python -m models.time_context [--prefix r_] PACKAGE [PACKAGE ...]
"""

import argparse
import json
import os

import numpy as np

from models.subpixel import bench, package_level, sess


def passes(pkg, prefix, size):
    """[(session, feed)] of every context pass of the package's latent `prefix`."""
    mj = json.load(open(os.path.join(pkg, "model.json")))
    spec = mj if not prefix else mj[{"m_": "motion", "r_": "residual"}[prefix]]
    ctx = spec["context"]
    M, h = sum(ctx["groups"]), size // 16
    rng = np.random.default_rng(0)
    out, start = [], 0
    for k, G in enumerate(ctx["groups"]):
        for p in ("a", "n") if ctx["local"] else ("a",):
            name = f"{prefix}cg{k}_{p}"
            path = os.path.join(pkg, f"{name}.onnx")
            s = sess(open(path, "rb").read(), 1, package_level(path))
            feed = {"hyper_scales": rng.random((1, M, h, h), dtype=np.float32),
                    "hyper_means": rng.standard_normal((1, M, h, h), dtype=np.float32)}
            names = {i.name for i in s.get_inputs()}
            if "y_prev" in names:
                feed["y_prev"] = rng.standard_normal((1, start, h, h), dtype=np.float32)
            if "anchors" in names:
                feed["anchors"] = np.round(rng.standard_normal((1, G, h, h), dtype=np.float32) * 3)
            if "side" in names:
                feed["side"] = rng.standard_normal((1, 32, h, h), dtype=np.float32)
            out.append((s, feed))
        start += G
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("packages", nargs="+")
    ap.add_argument("--prefix", default="", help="m_ or r_ for an inter package's latent")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    runs = {p: passes(p, a.prefix, a.size) for p in a.packages}
    res = {p: [] for p in a.packages}
    for _ in range(a.rounds):
        for p, ps in runs.items():
            res[p].append(sum(bench(s, feed, 5)[0] for s, feed in ps))
    for p, v in res.items():
        print(f"{p}: {len(runs[p])} {a.prefix}context passes, {a.size}x{a.size}, 1 thread: "
              + " ".join(f"{x:.1f}" for x in v) + " ms")


if __name__ == "__main__":
    main()
