#!/usr/bin/env bash
# The device tool sends the working tree (tracked and untracked-not-ignored files,
# plus what `carry` names) and refuses more than 64 MiB; the model packages alone
# are about 220 MB. `slim` takes the packages a training lease does not read out
# of the tree and the index (they stay in HEAD); `restore` brings them back.
# Never commit between the two. models/README.md, "Training on a GPU".
#   bash pipelines/gpu-tree.sh slim|restore|size
set -euo pipefail
cd "$(dirname "$0")/.."
# The GPU stages read models/hyperprior (init_package), models/checkerboard (the heads
# they continue) and data/aia171 (validation).
HOLD=${HOLD:-"models/legacy models/ssf models/ssf-lowres models/ssf-checkerboard"}
CARRY=${CARRY:-"models/pack/train.npz .whl"}
MARK=.git/helio-gpu-slim

size() {
  local tree carry
  tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
  carry=$(du -scb $CARRY 2>/dev/null | tail -1 | cut -f1)
  echo "travels: tree $((tree / 1048576)) MiB + carried ($CARRY) $((carry / 1048576)) MiB; the limit is 64 MiB"
  [ $((tree + carry)) -le $((64 * 1048576)) ]
}

case ${1:-} in
  slim)
    [ -f $MARK ] && { echo "already slim (restore first)"; exit 1; }
    # Only committed content is taken out, so restore loses nothing.
    git diff --quiet HEAD -- $HOLD || { echo "uncommitted changes under $HOLD: commit or stash them first" >&2; exit 1; }
    git rm -r -q $HOLD
    echo "$HOLD" > $MARK
    echo "held back (deleted in the index and tree; HEAD keeps them): $HOLD"
    echo "RESTORE BEFORE ANY COMMIT: bash pipelines/gpu-tree.sh restore"
    size
    ;;
  restore)
    [ -f $MARK ] || { echo "not slim: nothing to restore"; exit 0; }
    held=$(cat $MARK)
    git reset -q HEAD -- $held
    git checkout -q -- $held
    rm -f $MARK
    git status --short -- $held | head
    echo "restored: $held"
    ;;
  size) size ;;
  *) echo "usage: $0 slim|restore|size" >&2; exit 2 ;;
esac
