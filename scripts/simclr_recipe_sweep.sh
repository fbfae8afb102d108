#!/bin/bash
# Which recipe should the CPU SimCLR preset use? Four short runs of the CPU preset's network
# (ResNet-18, CIFAR stem, width 0.25, batch 128, seed 0), trained side by side on one GPU,
# then each scored with a linear probe on the held-out 10% (preset features only).
#
#   KERAS_BACKEND=jax bash scripts/simclr_recipe_sweep.sh DATA_DIR OUT_DIR [EPOCHS]
#
# DATA_DIR is the CIFAR-10 class-folder tree (~/data/cifar10/train). The run of
# 2026-11-28 (one H200, 14 epochs, 97 s per run with all four at once) is written up in
# docs/results/simclr_recipe_sweep/README.md.
set -u
DATA=$1; OUT=$2; E=${3:-14}
mkdir -p "$OUT"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # four processes share the GPU
shared=(--data "$DATA" --width 0.25 --batch-size 128 --epochs "$E" --seed 0 --verbose 2)
# The Adam recipes are AdamW (decoupled decay 1e-6): the sweep ran when --optimizer adam
# built AdamW; the flag now says so.
declare -A RECIPES=(
  [adam5e4_t05]="--optimizer adamw"
  [adam2e3_t05]="--optimizer adamw --learning-rate 2e-3"
  [adam1e3_t02]="--optimizer adamw --learning-rate 1e-3 --temperature 0.2"
  [lars_t05]="--optimizer lars --weight-decay 1e-4 --warmup-epochs 1"
)
for name in "${!RECIPES[@]}"; do
  # shellcheck disable=SC2086 # the recipe is a list of flags
  python examples/pretrain_simclr.py "${shared[@]}" ${RECIPES[$name]} \
    --save-preset "$OUT/$name" --preset-name "$name" --overwrite > "$OUT/$name.log" 2>&1 &
done
wait
for name in "${!RECIPES[@]}"; do
  echo "== $name: $(grep -E '^Done' "$OUT/$name.log")"
done
python scripts/probe_presets.py "$DATA" "$OUT"/*/
