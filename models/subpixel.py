"""ConvTranspose (stride s) rewritten as a stride-1 Conv with s*s*Cout outputs and a
DepthToSpace: the same function, in a form ONNX Runtime can run through its NCHWc
convolution kernels at optimisation level All.

It changes a graph's last bits, so a package whose graphs are rewritten is a new package
(new model id), and lists them in model.json `full_optimization`: encoder and decoder
both run them at level All (codec-core/src/model.rs). Rewrite a package's graphs in place:

    .venv/bin/python -m models.subpixel --package models/checkerboard g_s

(checks, per graph, the largest difference to the original at the pinned level, that the
rewritten graph gives identical outputs on 1 and 2 threads at All, and the speed; it
prints a model card section). Measure one graph without changing it:

    .venv/bin/python -m models.subpixel models/checkerboard/g_s.onnx

and two graphs of the same function, each at its package's level:

    .venv/bin/python -m models.subpixel --compare models/ssf/predict.onnx models/ssf-lowres/predict.onnx

which prints milliseconds per 512x512 frame for the original graph at Level1 and the
rewritten one at All, with 2 intra-op threads and with two 1-thread sessions running at
once (what heliodec frame-threads=2 threads=1 does), and the largest output difference.

The original weights stay recoverable (`original_initializers`), so models/package.py
reads rewritten packages back into PyTorch.
"""
import json
import os
import sys
import threading
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

META = "helio.subpixel"  # metadata: new weight name -> [original name, s, k, p]


# ConvTransposes with fewer outputs stay as they are. The NCHWc kernels compute output
# channels in blocks of 16 (8 on AVX2), so the rewritten form of a synthesis's last layer
# (1 output, 4 phases) pays for 16 and adds two layout reorders at full resolution: in
# models/hyperprior/g_s at 512x512 on 1 thread that layer took 16.4 ms rewritten against
# 4.4 ms as a ConvTranspose (ONNX Runtime's profiler), and the whole graph 9-11 % less
# (`python -m models.subpixel models/hyperprior/g_s.onnx`, two runs: 133.7 -> 118.7 ms
# with a training run sharing the CPU, 83.9 -> 76.1 ms without), with identical outputs
# on 1 and 2 threads at level All.
MIN_OUT = 16


def rewrite(model, min_out=MIN_OUT):
    """Replaces every ConvTranspose of `model` with at least `min_out` output channels in
    place (square kernels, equal pads)."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    new_nodes = []
    meta = {}
    for n in g.node:
        if n.op_type != "ConvTranspose" or numpy_helper.to_array(inits[n.input[1]]).shape[1] < min_out:
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
        meta[wname] = [n.input[1], s, k, p]
        ins = [n.input[0], wname]
        if len(n.input) > 2 and n.input[2]:
            b = numpy_helper.to_array(inits[n.input[2]])
            bname = n.input[2] + ".subpixel"
            g.initializer.append(numpy_helper.from_array(np.tile(b, s * s).astype(np.float32), bname))
            ins.append(bname)
            meta[bname] = [n.input[2], s, 0, 0]
        mid = n.output[0] + ".phases"
        new_nodes.append(helper.make_node("Conv", ins, [mid], name=n.name + "_subpixel", kernel_shape=[K, K], pads=[-lo, -lo, hi, hi], strides=[1, 1]))
        new_nodes.append(helper.make_node("DepthToSpace", [mid], [n.output[0]], name=n.name + "_d2s", blocksize=s, mode="DCR"))
    del g.node[:]
    g.node.extend(new_nodes)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]; g.initializer.extend(keep)
    helper.set_model_props(model, {META: json.dumps(meta)})
    onnx.checker.check_model(model)
    return model


def original_initializers(model):
    """{name: array} of the graph's weights, rewritten ConvTranspose weights and
    biases turned back into their original names and shapes."""
    meta = json.loads({p.key: p.value for p in model.metadata_props}.get(META, "{}"))
    out = {}
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        if init.name not in meta:
            out[init.name] = a
            continue
        name, s, k, p = meta[init.name]
        if k == 0:  # bias, tiled s*s times
            out[name] = a[: a.shape[0] // (s * s)].copy()
            continue
        cout, cin, K = a.shape[0] // (s * s), a.shape[1], a.shape[2]
        kc = a.reshape(s, s, cout, cin, K, K)
        offs = [(ph + p - t) // s for ph in range(s) for t in range(k) if (ph + p - t) % s == 0]
        lo = min(offs)
        w = np.zeros((cin, cout, k, k), np.float32)
        for ty in range(k):
            py = next(q for q in range(s) if (q + p - ty) % s == 0)
            for tx in range(k):
                px = next(q for q in range(s) if (q + p - tx) % s == 0)
                w[:, :, ty, tx] = kc[py, px, :, :, (py + p - ty) // s - lo, (px + p - tx) // s - lo].T
        out[name] = w
    return out

def sess(b, threads, level=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC):
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.graph_optimization_level = level
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(b, o, providers=["CPUExecutionProvider"])

def bench(s, feeds, n=8):
    s.run(None, feeds); ts = []
    for _ in range(n):
        t = time.perf_counter(); out = s.run(None, feeds); ts.append(time.perf_counter() - t)
    return np.median(ts) * 1e3, out

def ab(sa, sb, feeds, rounds=6, n=4):
    """Medians (ms) of two sessions timed in alternating rounds, so that a noisy
    neighbour slows both alike; and their outputs."""
    ta, tb = [], []
    for _ in range(rounds):
        t, oa = bench(sa, feeds, n)
        ta.append(t)
        t, ob = bench(sb, feeds, n)
        tb.append(t)
    return (float(np.median(ta)), float(np.median(tb))), (oa, ob)


def feeds_for_graph(model, size):
    """Inputs for any package graph: images at full size, latents at 1/16 (integers
    where they are quantized), hyper-latents at 1/64."""
    rng = np.random.default_rng(0)
    out = {}
    for i in model.graph.input:
        c = i.type.tensor_type.shape.dim[1].dim_value
        s16, s64 = (1, c, size // 16, size // 16), (1, c, size // 64, size // 64)
        if i.name in ("x", "ref", "pred"):
            v = rng.random((1, c, size, size))
        elif i.name == "z_hat":
            v = np.round(rng.normal(0, 2, s64))
        elif i.name in ("y_hat", "anchors", "y_prev"):
            v = np.round(rng.normal(0, 3, s16))
        elif i.name == "hyper_scales":
            v = rng.random(s16) * 3 + 0.1
        else:
            v = rng.normal(0, 1, s16)
        out[i.name] = v.astype(np.float32)
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


# Graphs codec-core always runs on one intra-op thread (they pick symbols' tables):
# hyper-synthesis, context and side networks. The rest follow the `threads` setting.
def single_threaded(name):
    return name.endswith("h_s") or "cg" in name or name.endswith("side")


def apply(package, rewrite_graphs, full=(), size=512, command=None):
    """Rewrites `rewrite_graphs` of the package folder in place and lists them, and the
    graphs `full`, in its model.json `full_optimization`; returns a model card section
    (markdown) with what it checked: each graph's largest difference to the original at
    the pinned level, and for graphs run on several threads identical outputs on 1 and 2
    threads at level All."""
    L1, ALL = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    mj_path = os.path.join(package, "model.json")
    mj = json.load(open(mj_path))
    done = mj.get("full_optimization", [])
    rows = []
    for name in list(rewrite_graphs) + list(full):
        if name in done:
            raise SystemExit(f"{package}/{name}.onnx is already in model.json full_optimization")
        path = os.path.join(package, f"{name}.onnx")
        model = onnx.load(path)
        old = model.SerializeToString()
        new_model = model
        if name in rewrite_graphs:
            new_model = rewrite(onnx.load(path))
            # The weights must come back exactly (models/package.py reads packages this way).
            orig = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
            back = original_initializers(new_model)
            assert set(orig) == set(back) and all(np.array_equal(orig[k], back[k]) for k in orig), name
        new = new_model.SerializeToString()
        f = feeds_for_graph(model, size)
        (to1, tn1), (oo, on1) = ab(sess(old, 1, L1), sess(new, 1, ALL), f)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(oo, on1))
        to2 = tn2 = None
        if not single_threaded(name):
            (to2, tn2), (_, on2) = ab(sess(old, 2, L1), sess(new, 2, ALL), f)
            if not all(np.array_equal(a, b) for a, b in zip(on1, on2)):
                raise SystemExit(f"{name}: differs between 1 and 2 threads at level All")
        if name in rewrite_graphs:
            onnx.save(new_model, path)
        rows.append((name, name in rewrite_graphs, to1, tn1, to2, tn2, diff))
        print(f"{name}: 1 thread {to1:.1f} -> {tn1:.1f} ms" + ("" if to2 is None else
              f", 2 threads {to2:.1f} -> {tn2:.1f} ms (identical on 1 and 2 threads)") +
              f", max |diff| {diff:.2e}", flush=True)
    mj["full_optimization"] = done + list(rewrite_graphs) + list(full)
    with open(mj_path, "w") as fh:
        json.dump(mj, fh, separators=(",", ":"))
    ms = lambda v: "-" if v is None else f"{v:.1f}"
    lines = [
        "## Full optimization and Conv + DepthToSpace synthesis (`models/subpixel.py`)",
        "",
        "Applied by the export command's options (the comment names them):" if command else "Applied after export by:",
        "",
        "    " + (command or f"python -m models.subpixel --package {package} --rewrite "
                 f"{' '.join(rewrite_graphs)}" + (f" --all {' '.join(full)}" if full else "")),
        "",
        "Encoder and decoder run the graphs below at ONNX Runtime's full optimization level "
        "(model.json `full_optimization`) instead of the pinned basic one. The rewritten ones "
        f"had each ConvTranspose with at least {MIN_OUT} outputs turned into a stride-1 Conv with "
        "s*s times the outputs and a DepthToSpace, the same function in a form the NCHWc "
        "convolution kernels take (narrower ones, such as a synthesis's last layer, run faster "
        "as they are). Outputs "
        "differ from the original graphs' at the basic level in the last float bits only (last "
        "column), so the figures above, measured at the basic level, stand (an entropy "
        "parameter moved by 1e-5 picks another table for a rare symbol at most); the model id "
        "is new. Graphs the codec runs on several threads gave identical outputs on 1 and 2 "
        "threads at the full level; the others always run on one (entropy parameters). "
        f"Milliseconds per run, {size}x{size} frame, this machine (median over 6 rounds that "
        "alternate original and rewritten, each the median of 4 runs):",
        "",
        "| graph | rewritten | basic, 1 thread | full, 1 thread | basic, 2 threads | full, 2 threads "
        "| max abs difference |",
        "|---|---|---:|---:|---:|---:|---:|",
    ] + [f"| {n} | {'yes' if r else 'no'} | {ms(a)} | {ms(b)} | {ms(c)} | {ms(d)} | {e:.1e} |"
         for n, r, a, b, c, d, e in rows]
    return "\n".join(lines) + "\n"


def package_level(path):
    """The level codec-core runs a package graph at (its model.json full_optimization)."""
    mj = os.path.join(os.path.dirname(path), "model.json")
    name = os.path.basename(path)[: -len(".onnx")]
    full = os.path.exists(mj) and name in json.load(open(mj)).get("full_optimization", [])
    return ort.GraphOptimizationLevel.ORT_ENABLE_ALL if full else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC


def compare(a, b, size=512):
    """ms per run of graph files `a` and `b` (same inputs), each at its package's level,
    in alternating rounds, on 1 and 2 threads."""
    f = feeds_for_graph(onnx.load(a), size)
    for threads in (1, 2):
        (ta, tb), _ = ab(sess(open(a, "rb").read(), threads, package_level(a)),
                         sess(open(b, "rb").read(), threads, package_level(b)), f)
        print(f"{threads} thread(s): {a} {ta:.1f} ms, {b} {tb:.1f} ms ({100 * (tb / ta - 1):+.0f} %)")


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3])
        sys.exit(0)
    if sys.argv[1] == "--package":
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument("--package", required=True)
        ap.add_argument("--rewrite", nargs="*", default=[], help="graphs to rewrite (and run at All)")
        ap.add_argument("--all", nargs="*", default=[], help="graphs to run at All as they are")
        a = ap.parse_args()
        section = apply(a.package, a.rewrite, a.all)
        card = os.path.join(a.package, "MODEL_CARD.md")
        with open(card, "a") as f:
            f.write("\n" + section)
        print(f"appended to {card}")
        sys.exit(0)
    path = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    model = onnx.load(path)
    old = model.SerializeToString()
    new = rewrite(onnx.load(path)).SerializeToString()
    every = rewrite(onnx.load(path), min_out=1).SerializeToString()
    feeds = feeds_for_graph(model, size)
    L1, ALL = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    print(f"{path} at {size}x{size}")
    outs = {}  # the rewritten graph's outputs per thread count
    for threads in (1, 2):
        (to, tn), (oo, outs[threads]) = ab(sess(old, threads, L1), sess(new, threads, ALL), feeds)
        (te, tn2), _ = ab(sess(every, threads, ALL), sess(new, threads, ALL), feeds)
        print(f"  {threads} thread(s): ConvTranspose/Level1 {to:.1f} ms; at All, every ConvTranspose "
              f"rewritten {te:.1f} ms, those with >= {MIN_OUT} outputs {tn2:.1f} ms "
              f"(and {tn:.1f} ms in the first pairing)")
    print(f"  two 1-thread at once: ConvTranspose/Level1 {concurrent(old, L1, feeds):.1f} ms/frame, "
          f"rewritten/All {concurrent(new, ALL, feeds):.1f} ms/frame")
    diff = max(float(np.abs(a - b).max()) for a, b in zip(oo, outs[2]))
    same = all(np.array_equal(a, b) for a, b in zip(outs[1], outs[2]))
    print(f"  max |difference| {diff:.2e}; rewritten graph identical on 1 and 2 threads: {same}")
