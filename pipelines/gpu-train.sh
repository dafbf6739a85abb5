#!/usr/bin/env bash
# Training on a lent GPU (issue 4): the command the device tool runs in the repo
# root. The round trip (prepare, run, bring the weights home, export, compare) is
# in models/README.md, "Training on a GPU".
#
#   bash pipelines/gpu-train.sh STAGE [STAGE ...]
# STAGE: TRAINER:CONFIG:SECONDS (a models/ trainer module), or synth:N (N clips).
#
# e.g. models.train:models/configs/gpu-intra.json:300 \
#      models.train_checkerboard:models/configs/gpu-checkerboard.json:170
#
# Stages run in order, each stopping at its wall budget (--max-seconds) with a
# checkpoint and a validation. Every checkpoint also writes a weights-only copy
# (no Adam moments, under 16 MiB) to $OUT/<config name>.pt, so a command cut
# short still returns its last one; the console log and log.csv go beside it.
# Needs, carried with the tree: models/pack/train.npz (`make pack`) and, where the GPU's
# Python lacks CompressAI, .whl (`make gpu-wheels`); for a synth:N stage (P-frame
# trainers), target/release/helio-synth. Without a GPU it trains on
# the CPU the same way (the tiny-budget check in models/README.md).
set -uo pipefail
: "${OUT:?set OUT to the folder that receives the weights (the device tool sets it)}"
PY=${PY:-python3}
mkdir -p "$OUT"
t0=$(date +%s)

if ! $PY -c "import compressai" 2>/dev/null; then
    ls .whl/*.whl >/dev/null 2>&1 || { echo "no CompressAI and no .whl/ carried: run make gpu-wheels and carry .whl"; exit 2; }
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 2
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
test -f models/pack/train.npz || { echo "models/pack/train.npz missing: run make pack and carry models/pack/train.npz"; exit 2; }
export PYTHONUNBUFFERED=1 HELIO_WEIGHTS_OUT=$OUT
$PY -c "
import torch, compressai, numpy
print('torch', torch.__version__, 'numpy', numpy.__version__, 'compressai', compressai.__version__,
      'cuda', torch.cuda.is_available() and torch.cuda.get_device_name(0))" || exit 2

rc=0
for stage in "$@"; do
    if [[ $stage == synth:* ]]; then
        # synth:N: N synthetic 3-frame clips for the P trainers (models/pack/synth-clips
        # is 507 MB for make synth-clips' 600, too much to carry): cut here by the
        # carried helio-synth (target/release/helio-synth, 8 MB, libc only).
        if [ -f models/pack/synth-clips/clips.npy ]; then echo "== models/pack/synth-clips exists: kept"; continue; fi
        echo "== helio-synth: ${stage#synth:} clips (at $(( $(date +%s) - t0 )) s)"
        target/release/helio-synth dataset --out models/pack/synth-clips --crops 0 --clips "${stage#synth:}" \
            --clip-len 3 --crop 128 --wavelengths all --seed 7 || { echo "== helio-synth failed: carry target/release/helio-synth"; rc=2; break; }
        continue
    fi
    IFS=: read -r trainer config seconds <<<"$stage"
    name=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['name'])" "$config") || exit 2
    echo "== $trainer $config: $seconds s (at $(( $(date +%s) - t0 )) s)"
    $PY -m "$trainer" --config "$config" --max-seconds "$seconds" 2>&1 | tee "$OUT/$name.log"
    st=${PIPESTATUS[0]}
    cp "models/runs/$name/log.csv" "$OUT/$name.csv" 2>/dev/null
    if [ "$st" != 0 ]; then echo "== $trainer failed (rc $st): later stages skipped"; rc=$st; break; fi
done
echo "== done in $(( $(date +%s) - t0 )) s"; ls -l "$OUT"
exit $rc
