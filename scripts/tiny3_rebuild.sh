#!/usr/bin/env bash
# Dimple-Tiny 3 from the shipped Tiny 2 in one run, with everything the first fourteen runs taught (docs/tiny3.md,
# "Session 25"): 8 layers x 256 wide from the start (Tiny 2 grown: dimple.tiny.init), the 1,024-token tokenizer,
# the full data mix (the size filter included), the binding loss (weight 0.02 on layer 4), long pads, bf16
# autocast, each decoder layer compiled (session 26: about 1.2x the steps per second). Resumable: run it again
# with the same OUT_ROOT and it goes on from the last checkpoint. The same script runs on a lent GPU (accelerate
# puts the model there; --threads only sets the CPU's torch threads).
#
#   bash scripts/tiny3_rebuild.sh [MINUTES] [OUT_ROOT] [NAME]     # defaults: 115 runs r1
#
# Ends by exporting OUT_ROOT/NAME-final (bf16), ready for `python -m dimple.cli eval --model OUT_ROOT/NAME-final`.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-115}
OUT_ROOT=${2:-runs}
NAME=${3:-r1}
TOKENIZER="$OUT_ROOT/tiny3-tokenizer"
# Two threads that sleep while they wait: a second process on a 2-core machine then slows training about 2x,
# where spinning threads slowed it 3x (AMD EPYC, docs/tiny3.md)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
[ -f "$TOKENIZER/tokenizer.json" ] || python -m dimple.tiny.tokenizer "$TOKENIZER" 1024
MIX="describe=5.0,structured=3.5,preset=1.5,template=2.0,conversation=4.5,visitor=5.0,count=1.5,exists=1.8"
MIX="$MIX,attribute=1.8,offworld=3.8,nonworld=1.3,choice=5.5,size=3.0"
if [ -f "$OUT_ROOT/$NAME/last.pt" ]; then
  python -m dimple.tiny.train --name "$NAME" --out-root "$OUT_ROOT" --resume --no-progress --threads 2 \
      --time-budget-minutes "$MINUTES" --compile layers
else
  python -m dimple.tiny.train --name "$NAME" --out-root "$OUT_ROOT" --init-from assets/dimple-tiny \
      --tokenizer-dir "$TOKENIZER" --num-layers 8 --hidden-size 256 --num-heads 8 --num-kv-heads 4 \
      --intermediate-size 768 --recipe diffusion-only --vision-warmup-steps 0 --curriculum-steps 0 --steps 100000 \
      --time-budget-minutes "$MINUTES" --lr 2.5e-4 --warmup-steps 100 --checkpoint-minutes 5 --threads 2 \
      --busy-share 0.55 --mix "$MIX" --canvas-len 96 --long-pad-prob 0.85 --max-pad 16 --mixed-precision bf16 \
      --binding-aux-weight 0.02 --binding-layer 4 --compile layers --no-progress
fi
python -m dimple.tiny.train --name "$NAME" --out-root "$OUT_ROOT" --export "$OUT_ROOT/$NAME-final"
