#!/usr/bin/env bash
# One NHL+KL training step through the whole network, KtuGate against PyTorch on the same CPU, model, batch and loss.
#
# KtuGate: `dotnet bench/KtuGate.Bench deep-step` (GradientBuilder's gradient model run by ONNX Runtime, AdamW in C#);
# PyTorch: bench/reference/nhl_kl_step.py (autograd, the same AdamW). Both train every weight of FashionGate's classifier on
# the same 192 exemplars, from the committed artifact's weights, and print the loss at the original weights (which must
# agree: the same loss, computed two ways), the loss after the steps and the seconds per step after 3 warm-up steps. The two
# alternate, ROUNDS times each, in one run of this script; the table gives each round and the median ratio.
# Needs Debian python3-torch, python3-onnx, python3-pil. Usage: bench/deep-step.sh [ROUNDS] [STEPS] > bench/results/deep-step.md
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/bench/machine.sh"
rounds=${1:-3}
steps=${2:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build "$repo/bench/KtuGate.Bench" -c Release -nologo -v:q >/dev/null

echo "# One NHL+KL step through the whole network: KtuGate against PyTorch"
echo
echo "Machine: $(machine), CPU only, both with $(nproc) threads; $(date -u +%Y-%m-%d)."
echo "FashionGate's classifier, every weight trained (scope all), batch 192 (64 sneaker, 128 retain exemplars), NHL (margin 2) + KL (weight 4) + coarse KL, AdamW lr 1e-3;"
echo "$steps timed steps per round after 3 warm-up steps; rounds alternate. \`bench/deep-step.sh $rounds $steps\`."
echo
echo "| Round | Framework | Loss at the original weights | Loss after | Seconds per step |"
echo "| --- | --- | --- | --- | --- |"
: > "$work/ratios"
for round in $(seq 1 "$rounds"); do
    k=$(dotnet run -c Release --no-build --project "$repo/bench/KtuGate.Bench" -- deep-step "$steps")
    p=$(/usr/bin/python3 "$repo/bench/reference/nhl_kl_step.py" --steps "$steps" --threads "$(nproc)")
    for line in "$k" "$p"; do
        echo "$line" | jq -r --arg r "$round" '"| \($r) | \(.framework) | \(.loss0) | \(.lossAfter) | \(.secondsPerStep * 1000 | round / 1000) |"'
    done
    jq -n --argjson k "$k" --argjson p "$p" '$p.secondsPerStep / $k.secondsPerStep' >> "$work/ratios"
done
echo
echo "PyTorch's seconds per step over KtuGate's, per round: $(paste -sd ' ' "$work/ratios" | awk '{ for (i = 1; i <= NF; i++) printf "%s%.2f", (i > 1 ? ", " : ""), $i }'); median $(sort -g "$work/ratios" | awk '{ a[NR] = $1 } END { printf "%.2f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }') (above 1: KtuGate's step is faster)."
