"""Synthesis graphs in a form ONNX Runtime runs fast: every wide ConvTranspose (stride s)
becomes s*s stride-1 Convs, one per output phase, each with only the kernel taps that
phase uses (a 5x5 stride-2 kernel: 3x3, 3x2, 2x3 and 2x2), which ONNX Runtime runs
through its NCHWc convolution kernels at optimisation level All. The phases stay
separate tensors through the pointwise ops that follow (GDN: Mul, 1x1 Conv, Sqrt), and a
narrow ConvTranspose after them (a synthesis's last layer, 1 output) becomes the sum of
one stride-s*s ConvTranspose per phase; so the full-resolution interleave that a
DepthToSpace would do is never materialised. Any other consumer gets the phases
interleaved (Concat + DepthToSpace).

Why this form (models/hyperprior's g_s weights, 512x512, 1 thread, ONNX Runtime's
profiler): the previous rewrite, one Conv per layer with the s*s phases' kernels padded
to 3x3 and a DepthToSpace, computed 36 taps where the transposed conv has 25, and its
full-resolution DepthToSpace alone took 9.5 ms; 78 ms per frame against 47 ms in this
form (`python -m models.subpixel GRAPH` measures a graph both ways).

It changes a graph's last bits, so a package whose graphs are rewritten is a new package
(new model id), and lists them in model.json `full_optimization`: encoder and decoder
both run them at level All (codec-core/src/model.rs). Rewrite a package's graphs in place
(a graph in the previous Conv + DepthToSpace form is turned back into ConvTransposes
first):

    .venv/bin/python -m models.subpixel --package models/checkerboard --rewrite g_s

(checks, per graph, the largest difference to the original ConvTranspose graph at the
pinned level, that the rewritten graph gives identical outputs on 1 and 2 threads at All,
and the speed against the graph as it was; it appends a model card section). Measure
one graph without changing it:

    .venv/bin/python -m models.subpixel models/checkerboard/g_s.onnx

and two graphs of the same function, each at its package's level:

    .venv/bin/python -m models.subpixel --compare models/ssf/predict.onnx models/ssf-lowres/predict.onnx

which prints milliseconds per 512x512 frame on 1 and 2 intra-op threads.

The original weights stay recoverable (`original_initializers`), so models/package.py
reads rewritten packages, of either form, back into PyTorch.
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

# metadata: new weight name -> [original name, s, k, p] (Conv + DepthToSpace form, where
# k 0 marks a tiled bias) or [original name, s, k, p, py, px] (one phase's kernel)
META = "helio.subpixel"

# ConvTransposes with fewer outputs stay ConvTransposes. The NCHWc kernels compute output
# channels in blocks of 16 (8 on AVX2), so a phase Conv of a synthesis's last layer
# (1 output) would pay for 16; in models/hyperprior/g_s at 512x512 on 1 thread that layer
# took 16.4 ms as a Conv + DepthToSpace against 4.4 ms as a ConvTranspose.
MIN_OUT = 16

# Ops that act on each element (or, 1x1 Conv, each position) alone: they run per phase.
POINTWISE = {"Mul", "Add", "Sub", "Div", "Sqrt", "Relu", "Sigmoid", "Exp", "Log", "Abs", "Neg", "Reciprocal"}


def _attrs(n):
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def _phase_taps(ph, s, k, p):
    """Kernel taps t of a stride-s, pad-p ConvTranspose that reach output phase `ph`, and
    the input offset d each reads: out[s*m + ph] = sum_t in[m + d] w[t]."""
    ts = [t for t in range(k) if (ph + p - t) % s == 0]
    return ts, [(ph + p - t) // s for t in ts]


def _is_pointwise(n):
    at = _attrs(n)
    return n.op_type in POINTWISE or (
        n.op_type == "Conv" and at.get("kernel_shape") == [1, 1] and at.get("group", 1) == 1
        and not any(at.get("pads", [])) and at.get("strides", [1, 1]) == [1, 1])


def rewrite(model, min_out=MIN_OUT):
    """Rewrites `model` (ConvTransposes with square kernels, equal pads, output s times the
    input) into the phase form described above, in place."""
    if any(len(v) == 6 for v in _meta(model).values()):
        raise ValueError("already in phase-split form")
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    phased = {}  # tensor name -> (s, its s*s phase tensors, row-major)
    nodes, new_inits, meta = [], [], {}
    count = [0]

    def fresh(base):
        count[0] += 1
        return f"{base}.ph{count[0]}"

    def interleaved(name):
        if name in phased:
            s, ps = phased.pop(name)
            mid = fresh(name + ".phases")
            nodes.append(helper.make_node("Concat", ps, [mid], axis=1))
            nodes.append(helper.make_node("DepthToSpace", [mid], [name], blocksize=s, mode="DCR"))
        return name

    for n in g.node:
        ins, at = list(n.input), _attrs(n)
        if _is_pointwise(n) and any(i in phased for i in ins):
            strides = {phased[i][0] for i in ins if i in phased}
            if len(strides) == 1 and all(i in phased or i in inits for i in ins):
                s, outs = strides.pop(), []
                for ph in range(s * s):
                    outs.append(fresh(n.output[0]))
                    nodes.append(helper.make_node(n.op_type, [phased[i][1][ph] if i in phased else i for i in ins],
                                                  [outs[-1]], **at))
                phased[n.output[0]] = (s, outs)
                continue
        if n.op_type == "ConvTranspose":
            w = inits[ins[1]]
            cin, cout, k = w.shape[0], w.shape[1], w.shape[2]
            s, p = at["strides"][0], at["pads"][0]
            assert at["strides"] == [s, s] and at["kernel_shape"] == [k, k] and at["pads"] == [p] * 4 and at.get("group", 1) == 1
            assert -2 * p + k + at.get("output_padding", [0, 0])[0] - s == 0, "output must be s times the input"
            bias = ins[2:3] if len(ins) > 2 and ins[2] else []
            if cout < min_out and ins[0] in phased and phased[ins[0]][0] == s:
                # in[s*m + a] = P_a[m], so out = sum over phases a of ConvT(P_a) at stride s*s
                # with begin pad p - s*a; end pad / output_padding keep the length s*s*m.
                S, parts = s * s, []

                def pads(a):
                    pb = p - s * a
                    v = S + pb - k
                    assert pb >= 0 and v < S, "needs a crop"
                    return pb, max(-v, 0), max(v, 0)
                for ay in range(s):
                    for ax in range(s):
                        (by, ey, oy), (bx, ex, ox) = pads(ay), pads(ax)
                        parts.append(fresh(n.output[0]))
                        nodes.append(helper.make_node(
                            "ConvTranspose", [phased[ins[0]][1][ay * s + ax], ins[1]] + (bias if not parts[:-1] else []),
                            [parts[-1]], kernel_shape=[k, k], strides=[S, S], pads=[by, bx, ey, ex],
                            output_padding=[oy, ox]))
                nodes.append(helper.make_node("Sum", parts, [n.output[0]]))
                continue
            if cout >= min_out:
                x, outs = interleaved(ins[0]), []
                for py in range(s):
                    tys, dys = _phase_taps(py, s, k, p)
                    for px in range(s):
                        txs, dxs = _phase_taps(px, s, k, p)
                        kc = np.zeros((cout, cin, max(dys) - min(dys) + 1, max(dxs) - min(dxs) + 1), np.float32)
                        for ty, dy in zip(tys, dys):
                            for tx, dx in zip(txs, dxs):
                                kc[:, :, dy - min(dys), dx - min(dxs)] = w[:, :, ty, tx].T
                        wname = f"{ins[1]}.phase{py}{px}"
                        new_inits.append(numpy_helper.from_array(kc, wname))
                        meta[wname] = [ins[1], s, k, p, py, px]
                        outs.append(fresh(n.output[0]))
                        nodes.append(helper.make_node("Conv", [x, wname] + bias, [outs[-1]], kernel_shape=list(kc.shape[2:]),
                                                      pads=[-min(dys), -min(dxs), max(dys), max(dxs)]))
                phased[n.output[0]] = (s, outs)
                continue
        nodes.append(helper.make_node(n.op_type, [interleaved(i) if i else i for i in ins], list(n.output),
                                      name=n.name, **at))
    for o in g.output:
        interleaved(o.name)
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(new_inits)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    helper.set_model_props(model, {META: json.dumps(meta)})
    onnx.checker.check_model(model)
    return model


def _meta(model):
    return json.loads({p.key: p.value for p in model.metadata_props}.get(META, "{}"))


def unrewrite(model):
    """A graph in the previous form (each ConvTranspose a Conv over zero-padded phase
    kernels + DepthToSpace, metadata entries of length 4) back to ConvTransposes, in place;
    other graphs are returned as they are."""
    meta = _meta(model)
    if not meta or any(len(v) != 4 for v in meta.values()):
        return model
    g = model.graph
    orig = original_initializers(model)
    producer = {o: n for n in g.node for o in n.output}
    nodes, inits = [], {}
    for n in g.node:
        if n.op_type == "DepthToSpace" and producer[n.input[0]].input[1] in meta:
            conv = nodes.pop()
            assert conv is producer[n.input[0]]
            wname, s, k, p = meta[conv.input[1]]
            ins = [conv.input[0], wname]
            inits[wname] = orig[wname]
            if len(conv.input) > 2 and conv.input[2]:
                ins.append(meta[conv.input[2]][0])
                inits[ins[-1]] = orig[ins[-1]]
            nodes.append(helper.make_node("ConvTranspose", ins, list(n.output), name=conv.name.removesuffix("_subpixel"),
                                          kernel_shape=[k, k], strides=[s, s], pads=[p] * 4,
                                          output_padding=[s + 2 * p - k] * 2))
        else:
            nodes.append(n)
    kept = [i for i in g.initializer if i.name not in meta]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + [numpy_helper.from_array(v, k) for k, v in inits.items()])
    del model.metadata_props[:]
    onnx.checker.check_model(model)
    return model


def original_initializers(model):
    """{name: array} of the graph's weights, rewritten ConvTranspose weights and
    biases (either form) turned back into their original names and shapes."""
    meta = _meta(model)
    out = {}
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        if init.name not in meta:
            out[init.name] = a
            continue
        name, s, k, p = meta[init.name][:4]
        if len(meta[init.name]) == 6:  # one phase's kernel [Cout, Cin, ky, kx]
            py, px = meta[init.name][4:]
            w = out.setdefault(name, np.zeros((a.shape[1], a.shape[0], k, k), np.float32))
            tys, dys = _phase_taps(py, s, k, p)
            txs, dxs = _phase_taps(px, s, k, p)
            for ty, dy in zip(tys, dys):
                for tx, dx in zip(txs, dxs):
                    w[:, :, ty, tx] = a[:, :, dy - min(dys), dx - min(dxs)].T
            continue
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
    """Rewrites `rewrite_graphs` of the package folder in place (a graph in the previous
    Conv + DepthToSpace form is turned back into ConvTransposes first) and lists them, and
    the graphs `full`, in its model.json `full_optimization`; returns a model card section
    (markdown) with what it checked: each graph's largest difference to the original
    ConvTranspose graph at the pinned level, the speed against the graph as it was (at the
    package's level), and for graphs run on several threads identical outputs on 1 and 2
    threads at level All."""
    L1, ALL = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    mj_path = os.path.join(package, "model.json")
    mj = json.load(open(mj_path))
    done = mj.get("full_optimization", [])
    rows = []
    for name in list(rewrite_graphs) + list(full):
        if name in full and name in done:
            raise SystemExit(f"{package}/{name}.onnx is already in model.json full_optimization")
        path = os.path.join(package, f"{name}.onnx")
        old = open(path, "rb").read()
        old_level = ALL if name in done else L1
        base = unrewrite(onnx.load(path))
        base_bytes = base.SerializeToString()
        new_model = base
        if name in rewrite_graphs:
            try:
                new_model = rewrite(onnx.load_from_string(base_bytes))
            except ValueError as e:
                raise SystemExit(f"{path}: {e}")
            # The weights must come back exactly (models/package.py reads packages this way).
            orig = {i.name: numpy_helper.to_array(i) for i in base.graph.initializer}
            back = original_initializers(new_model)
            assert set(orig) == set(back) and all(np.array_equal(orig[k], back[k]) for k in orig), name
        new = new_model.SerializeToString()
        f = feeds_for_graph(base, size)
        (to1, tn1), (_, on1) = ab(sess(old, 1, old_level), sess(new, 1, ALL), f)
        ob = sess(base_bytes, 1, L1).run(None, f)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(ob, on1))
        to2 = tn2 = None
        if not single_threaded(name):
            (to2, tn2), (_, on2) = ab(sess(old, 2, old_level), sess(new, 2, ALL), f)
            if not all(np.array_equal(a, b) for a, b in zip(on1, on2)):
                raise SystemExit(f"{name}: differs between 1 and 2 threads at level All")
        if name in rewrite_graphs:
            onnx.save(new_model, path)
        rows.append((name, name in rewrite_graphs, "full" if old_level == ALL else "basic", to1, tn1, to2, tn2, diff))
        print(f"{name}: 1 thread {to1:.1f} -> {tn1:.1f} ms" + ("" if to2 is None else
              f", 2 threads {to2:.1f} -> {tn2:.1f} ms (identical on 1 and 2 threads)") +
              f", max |diff| to the ConvTranspose graph {diff:.2e}", flush=True)
    mj["full_optimization"] = done + [n for n in list(rewrite_graphs) + list(full) if n not in done]
    with open(mj_path, "w") as fh:
        json.dump(mj, fh, separators=(",", ":"))
    ms = lambda v: "-" if v is None else f"{v:.1f}"
    lines = [
        "## Full optimization and phase-split synthesis (`models/subpixel.py`)",
        "",
        "Applied by the export command's options (the comment names them):" if command else "Applied after export by:",
        "",
        "    " + (command or f"python -m models.subpixel --package {package} --rewrite "
                 f"{' '.join(rewrite_graphs)}" + (f" --all {' '.join(full)}" if full else "")),
        "",
        "Encoder and decoder run the graphs below at ONNX Runtime's full optimization level "
        "(model.json `full_optimization`) instead of the pinned basic one. In the rewritten ones "
        f"each ConvTranspose (stride s) with at least {MIN_OUT} outputs became s*s stride-1 Convs, "
        "one per output phase with only the taps it uses, whose outputs stay separate through "
        "the GDN that follows; a narrower ConvTranspose after them (the last layer) is a sum of "
        "one strided ConvTranspose per phase. The same function in a form the NCHWc convolution "
        "kernels take, without zero taps or a full-resolution DepthToSpace. Outputs "
        "differ from the original graphs' at the basic level in the last float bits only (last "
        "column), so the figures above, measured at the basic level, stand (an entropy "
        "parameter moved by 1e-5 picks another table for a rare symbol at most); the model id "
        "is new. Graphs the codec runs on several threads gave identical outputs on 1 and 2 "
        "threads at the full level; the others always run on one (entropy parameters). "
        f"Milliseconds per run, {size}x{size} frame, this machine, the graph as it was (at the "
        "level it ran) against the new one (median over 6 rounds that alternate them, each the "
        "median of 4 runs):",
        "",
        "| graph | rewritten | level before | before, 1 thread | after, 1 thread | before, 2 threads "
        "| after, 2 threads | max abs difference |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ] + [f"| {n} | {'yes' if r else 'no'} | {lv} | {ms(a)} | {ms(b)} | {ms(c)} | {ms(d)} | {e:.1e} |"
         for n, r, lv, a, b, c, d, e in rows]
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
    L1, ALL = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    as_is, level = open(path, "rb").read(), package_level(path)
    base = unrewrite(onnx.load(path))
    orig = base.SerializeToString()
    feeds = feeds_for_graph(base, size)  # before rewrite() changes base in place
    try:
        new = rewrite(base).SerializeToString()
    except ValueError as e:
        raise SystemExit(f"{path}: {e} (time it against another graph with --compare)")
    print(f"{path} at {size}x{size}")
    outs = {}  # the rewritten graph's outputs per thread count
    for threads in (1, 2):
        (to, tn), (oo, outs[threads]) = ab(sess(orig, threads, L1), sess(new, threads, ALL), feeds)
        line = f"  {threads} thread(s): ConvTranspose graph at basic {to:.1f} ms, phase-split at All {tn:.1f} ms"
        if as_is != orig:
            (ti, tn2), _ = ab(sess(as_is, threads, level), sess(new, threads, ALL), feeds)
            line += f"; the graph as it is (at its package's level) {ti:.1f} ms against {tn2:.1f}"
        print(line, flush=True)
    print(f"  two 1-thread at once: ConvTranspose/basic {concurrent(orig, L1, feeds):.1f} ms/frame, "
          f"phase-split/All {concurrent(new, ALL, feeds):.1f} ms/frame")
    diff = max(float(np.abs(a - b).max()) for a, b in zip(oo, outs[2]))
    same = all(np.array_equal(a, b) for a, b in zip(outs[1], outs[2]))
    print(f"  max |difference| {diff:.2e}; phase-split graph identical on 1 and 2 threads: {same}")
