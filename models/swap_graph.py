"""Copies a model package with one graph taken from another package.

    python -m models.swap_graph --base models/ssf-checkerboard --graph m_g_s \
        --from out/ssf-scale-live-warp --out out/ssf-checkerboard-live --why "..."

For a network retrained with everything around it frozen (its inputs and what
reads its outputs unchanged), e.g. the motion decoder `m_g_s` of
`models/configs/ssf-scale-live.json`, which only changes the prediction: the
latents, tables and every other graph stay the base package's byte for byte.
Checks that the two graphs have the same input and output names, appends the
reason to model.json `architecture` and a section to the model card. The model
id is new; measure the result through the codec with
`bash pipelines/compare-packages.sh`.
"""

import argparse
import json
import os
import shutil
import sys

import onnx


def io_names(path):
    m = onnx.load(path)
    return [i.name for i in m.graph.input], [o.name for o in m.graph.output]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--graph", required=True)
    ap.add_argument("--from", dest="src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--why", required=True, help="one sentence for the model card")
    a = ap.parse_args()
    cmd = "python -m models.swap_graph " + " ".join(
        f'"{x}"' if " " in x else x for x in sys.argv[1:])

    old, new = (os.path.join(d, f"{a.graph}.onnx") for d in (a.base, a.src))
    if io_names(old) != io_names(new):
        raise SystemExit(f"{new} has inputs/outputs {io_names(new)}, {old} has {io_names(old)}")
    mj = json.load(open(os.path.join(a.base, "model.json")))
    src = json.load(open(os.path.join(a.src, "model.json")))
    if mj.get("warp") != src.get("warp"):
        raise SystemExit(f"warp differs: {mj.get('warp')!r} against {src.get('warp')!r}")
    if os.path.abspath(a.base) != os.path.abspath(a.out):
        shutil.rmtree(a.out, ignore_errors=True)
        shutil.copytree(a.base, a.out)
    shutil.copyfile(new, os.path.join(a.out, f"{a.graph}.onnx"))
    mj["architecture"] += f"; {a.graph} from {src['name']} ({a.why})"
    with open(os.path.join(a.out, "model.json"), "w") as fh:
        json.dump(mj, fh, separators=(",", ":"))
    with open(os.path.join(a.out, "MODEL_CARD.md"), "a") as f:
        f.write(f"\n## {a.graph} replaced (`models/swap_graph.py`)\n\nMade by:\n\n    {cmd}\n\n"
                f"{a.why}. Every other graph, the latents and the tables are the package's above, "
                f"byte for byte; `{a.graph}.onnx` is `{a.src}`'s (its model card: how it was trained).\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
