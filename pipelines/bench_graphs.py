"""Per-graph speed and determinism of a model package under ONNX Runtime (a benchmark, not
a test: these machines are shared and noisy).

For every ONNX graph of the given packages, at 512x512 (latents at 1/16, hyper-latents at
1/64): milliseconds per run at the pinned level (Level1 / ORT_ENABLE_BASIC) and at every
optimization (ORT_ENABLE_ALL), 2 intra-op threads, and the largest output difference of
ALL/1 thread, ALL/2 threads and BASIC/2 threads against BASIC/1 thread. codec-core runs the
encoder-only analysis graphs (g_a, h_a, m_g_a, m_h_a, r_g_a, r_h_a) and the graphs a package's
model.json lists in `full_optimization` at ALL, everything else at BASIC (models/PACKAGE.md).

    .venv/bin/python pipelines/bench_graphs.py models/checkerboard models/ssf-checkerboard
"""
import glob
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from models.subpixel import feeds_for_graph  # noqa: E402 (the repo root is not on the path)

L = ort.GraphOptimizationLevel


def session(path, level, threads):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def main(packages):
    print("| graph | BASIC ms | ALL ms | max diff ALL/1t | ALL/2t | BASIC/2t |\n|---|---:|---:|---:|---:|---:|")
    for pkg in packages:
        for path in sorted(glob.glob(f"{pkg}/*.onnx")):
            base = session(path, L.ORT_ENABLE_BASIC, 1)
            f = feeds_for_graph(onnx.load(path), 512)
            ref = base.run(None, f)
            diffs = []
            for level, threads in ((L.ORT_ENABLE_ALL, 1), (L.ORT_ENABLE_ALL, 2), (L.ORT_ENABLE_BASIC, 2)):
                out = session(path, level, threads).run(None, f)
                diffs.append(max(float(np.abs(a - b).max()) for a, b in zip(out, ref)))
            ms = []
            for level in (L.ORT_ENABLE_BASIC, L.ORT_ENABLE_ALL):
                s = session(path, level, 2)
                s.run(None, f)
                t = time.perf_counter()
                for _ in range(3):
                    s.run(None, f)
                ms.append(1000 * (time.perf_counter() - t) / 3)
            name = f"{pkg.rstrip('/').split('/')[-1]}/{path.split('/')[-1][:-5]}"
            print(f"| {name} | {ms[0]:.1f} | {ms[1]:.1f} | {diffs[0]:.2g} | {diffs[1]:.2g} | {diffs[2]:.2g} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["models/checkerboard", "models/ssf-checkerboard"])
