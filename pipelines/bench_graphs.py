"""Per-graph speed and determinism of a model package under ONNX Runtime (a benchmark, not
a test: these machines are shared and noisy).

For every ONNX graph of the given packages, at 512x512 (latents at 1/16, hyper-latents at
1/64): milliseconds per run at the pinned level (Level1 / ORT_ENABLE_BASIC) and at every
optimization (ORT_ENABLE_ALL), 2 intra-op threads, and the largest output difference of
ALL/1 thread, ALL/2 threads and BASIC/2 threads against BASIC/1 thread. codec-core runs the
encoder-only analysis graphs (g_a, h_a, m_g_a, m_h_a, r_g_a, r_h_a) at ALL and everything
else at BASIC (codec-core/src/runtime.rs says why).

    .venv/bin/python pipelines/bench_graphs.py models/checkerboard models/ssf-checkerboard
"""
import glob
import sys
import time

import numpy as np
import onnxruntime as ort

L = ort.GraphOptimizationLevel
IMAGE_INPUTS = {"x", "ref", "pred"}


def session(path, level, threads):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def feeds(sess, rng, size=512):
    out = {}
    for i in sess.get_inputs():
        c = i.shape[1]
        if i.name in IMAGE_INPUTS:
            v = rng.random((1, c, size, size))
        elif i.name == "z_hat":
            v = (rng.standard_normal((1, c, size // 64, size // 64)) * 2).round()
        elif i.name in ("y_hat", "anchors", "y_prev"):
            v = (rng.standard_normal((1, c, size // 16, size // 16)) * 2).round()
        elif i.name == "hyper_scales":
            v = rng.random((1, c, size // 16, size // 16)) * 3 + 0.1
        else:
            v = rng.standard_normal((1, c, size // 16, size // 16))
        out[i.name] = v.astype(np.float32)
    return out


def main(packages):
    rng = np.random.default_rng(1)
    print("| graph | BASIC ms | ALL ms | max diff ALL/1t | ALL/2t | BASIC/2t |\n|---|---:|---:|---:|---:|---:|")
    for pkg in packages:
        for path in sorted(glob.glob(f"{pkg}/*.onnx")):
            base = session(path, L.ORT_ENABLE_BASIC, 1)
            f = feeds(base, rng)
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
