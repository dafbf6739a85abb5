"""ConvTranspose (stride s) rewritten as a stride-1 Conv with s*s*Cout outputs and a
DepthToSpace: the same function, in a form ONNX Runtime can run through its NCHWc
convolution kernels at optimisation level All.

Not used by the shipped packages yet: it changes the synthesis graphs' last bits (so the
model ids), and those graphs run at the pinned Level1 today. Measure it with

    .venv/bin/python -m models.subpixel models/checkerboard/g_s.onnx

which prints milliseconds per 512x512 frame for the original graph at Level1 and the
rewritten one at All, with 2 intra-op threads and with two 1-thread sessions running at
once (what heliodec frame-threads=2 threads=1 does), and the largest output difference.
"""
import sys
import threading
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

def rewrite(model):
    """Replaces every ConvTranspose of `model` in place (square kernels, equal pads)."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    new_nodes = []
    for n in g.node:
        if n.op_type != "ConvTranspose":
            new_nodes.append(n); continue
        at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        s = at["strides"][0]; k = at["kernel_shape"][0]; p = at["pads"][0]; op = at.get("output_padding", [0, 0])[0]
        assert at["strides"] == [s, s] and at["kernel_shape"] == [k, k] and at["pads"] == [p] * 4 and at.get("group", 1) == 1
        w = numpy_helper.to_array(inits[n.input[1]])  # [Cin, Cout, k, k]
        cin, cout = w.shape[:2]
        offs = [(ph + p - t) // s for ph in range(s) for t in range(k) if (ph + p - t) % s == 0]
        lo, hi = min(offs), max(offs); K = hi - lo + 1
        # the conv's output length equals the input's, so the transposed conv's must be s times it
        assert -2 * p + k + op - s == 0, "needs a crop"
        kc = np.zeros((s, s, cout, cin, K, K), np.float32)
        for py in range(s):
            for ty in range(k):
                if (py + p - ty) % s: continue
                ay = (py + p - ty) // s - lo
                for px in range(s):
                    for tx in range(k):
                        if (px + p - tx) % s: continue
                        ax = (px + p - tx) // s - lo
                        kc[py, px, :, :, ay, ax] = w[:, :, ty, tx].T
        kc = kc.reshape(s * s * cout, cin, K, K)
        wname = n.input[1] + ".subpixel"
        g.initializer.append(numpy_helper.from_array(kc, wname))
        ins = [n.input[0], wname]
        if len(n.input) > 2 and n.input[2]:
            b = numpy_helper.to_array(inits[n.input[2]])
            bname = n.input[2] + ".subpixel"
            g.initializer.append(numpy_helper.from_array(np.tile(b, s * s).astype(np.float32), bname))
            ins.append(bname)
        mid = n.output[0] + ".phases"
        new_nodes.append(helper.make_node("Conv", ins, [mid], name=n.name + "_subpixel", kernel_shape=[K, K], pads=[-lo, -lo, hi, hi], strides=[1, 1]))
        new_nodes.append(helper.make_node("DepthToSpace", [mid], [n.output[0]], name=n.name + "_d2s", blocksize=s, mode="DCR"))
    del g.node[:]
    g.node.extend(new_nodes)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]; g.initializer.extend(keep)
    onnx.checker.check_model(model)
    return model

def sess(b, threads, level=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC):
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.graph_optimization_level = level
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(b, o, providers=["CPUExecutionProvider"])

def bench(s, feeds, n=8):
    s.run(None, feeds); ts = []
    for _ in range(n):
        t = time.perf_counter(); out = s.run(None, feeds); ts.append(time.perf_counter() - t)
    return np.median(ts) * 1e3, out

def feeds_for(model, size):
    rng = np.random.default_rng(0)
    out = {}
    for i in model.graph.input:
        c = i.type.tensor_type.shape.dim[1].dim_value
        if i.name == "y_hat":
            out[i.name] = np.round(rng.normal(0, 3, (1, c, size // 16, size // 16))).astype(np.float32)
        else:
            out[i.name] = rng.random((1, c, size, size)).astype(np.float32)
    return out


def concurrent(b, level, feeds, n=12):
    """ms per frame with two 1-thread sessions running side by side."""
    ss = [sess(b, 1, level) for _ in range(2)]
    for s in ss:
        s.run(None, feeds)
    t = time.perf_counter()
    ts = [threading.Thread(target=lambda s=s: [s.run(None, feeds) for _ in range(n)]) for s in ss]
    [x.start() for x in ts]
    [x.join() for x in ts]
    return (time.perf_counter() - t) / (2 * n) * 1e3


if __name__ == "__main__":
    path = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    model = onnx.load(path)
    old = model.SerializeToString()
    new = rewrite(onnx.load(path)).SerializeToString()
    feeds = feeds_for(model, size)
    L1, ALL = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    to, oo = bench(sess(old, 2, L1), feeds)
    tn, on = bench(sess(new, 2, ALL), feeds)
    _, on1 = bench(sess(new, 1, ALL), feeds)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(oo, on))
    same = all(np.array_equal(a, b) for a, b in zip(on, on1))
    print(f"{path} at {size}x{size}")
    print(f"  2 threads:            ConvTranspose/Level1 {to:.1f} ms, Conv+DepthToSpace/All {tn:.1f} ms")
    print(f"  two 1-thread at once: ConvTranspose/Level1 {concurrent(old, L1, feeds):.1f} ms/frame, "
          f"Conv+DepthToSpace/All {concurrent(new, ALL, feeds):.1f} ms/frame")
    print(f"  max |difference| {diff:.2e}; rewritten graph identical on 1 and 2 threads: {same}")
