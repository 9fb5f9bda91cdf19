#!/usr/bin/env bash
# NHL+KL training steps through samples/ResNetClip's image tower (ResNet-18 at 224x224 + projection), KtuGate against PyTorch on the
# same CPU, model, batch, scope and loss, with each process's peak resident memory.
#
# KtuGate: `dotnet bench/KtuGate.Bench deep-step-resnet` (GradientBuilder's gradient model of the whole tower run by ONNX Runtime,
# AdamW in C#); it also writes the decoded batch, MiniLM's class directions and the reference distribution to a folder, from which
# PyTorch: bench/reference/resnetclip_step.py (an interpreter of the tower's ONNX ops in torch, autograd, the same AdamW) trains the
# same tensors. Each prints the loss at the original weights (which must agree: the same loss, computed two ways), the loss after
# the steps and the seconds per step after WARM-UP steps. The two alternate, ROUNDS times per scope, in one run of this script.
# Needs samples/ResNetClip built (`dotnet build samples/ResNetClip`), Debian python3-torch, python3-onnx and GNU time.
# Each configuration FORGET,RETAIN-PER-CLASS,SCOPE is a batch (the first FORGET sneakers and RETAIN-PER-CLASS of each of four retain
# classes) and a scope; the default's last is the batch the gate's deep edit itself takes on this sample (64 forget exemplars and
# every retain exemplar of those classes: the sample has 20 of each).
# Usage: bench/deep-step-resnet.sh [ROUNDS] [STEPS] [CONFIGURATION...] > bench/results/deep-step-resnet.md
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/bench/machine.sh"
rounds=${1:-2}
steps=${2:-3}
shift $(($# < 2 ? $# : 2))
configurations=("$@")
[ ${#configurations[@]} -gt 0 ] || configurations=(16,4,all 16,4,last 64,20,all)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build "$repo/bench/KtuGate.Bench" -c Release -nologo -v:q >/dev/null

echo "# NHL+KL steps through a ResNet-18 tower: KtuGate against PyTorch"
echo
echo "Machine: $(machine), CPU only, both with $(nproc) threads; $(date -u +%Y-%m-%d); load average before the run $(cut -d' ' -f1-3 /proc/loadavg)."
echo "samples/ResNetClip's image tower (ResNet-18 at 224x224, the projection, L2 normalisation; ONNX opset 13) over its zero-shot scores against"
echo "MiniLM's prompt embeddings (scale 20); a batch of the first F sneakers (forget: NHL against sandal and ankle boot, margin 1, coarse KL weight 4)"
echo "and the first R of sandal, ankle boot, t-shirt and bag (retain: KL weight 4), F + 4R in all; AdamW lr 1e-3, decay 1e-3 towards the original."
echo "Scope \`all\`: every float initializer of rank above 0 but batch normalisation's running statistics (the convolutions, batch"
echo "normalisation's scales and shifts, the preprocessing's mean image, the projection); scope \`last\`: the projection. $steps timed"
echo "steps after 1 warm-up step per run; runs alternate."
echo "KtuGate feeds a batch in parts of at most 32 images of 3x224x224 (\`GradientTrainer.PartElements\`, as the gate's deep edit does), one"
echo "ONNX Runtime run each, their gradients summed into one AdamW step; PyTorch runs the whole batch at once."
echo "\`bench/deep-step-resnet.sh $rounds $steps ${configurations[*]}\`."
echo
echo "| Batch (F + 4R) | Scope | Round | Framework | Parts per step | Parameters trained | Loss at the original weights | Loss after | Seconds per step | Peak RSS (MB) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for configuration in "${configurations[@]}"; do
    IFS=, read -r forget retain scope <<< "$configuration"
    : > "$work/ratios-$configuration"
    for round in $(seq 1 "$rounds"); do
        /usr/bin/time -f %M -o "$work/k.rss" dotnet run -c Release --no-build --project "$repo/bench/KtuGate.Bench" -- \
            deep-step-resnet "$steps" "$forget" "$retain" "$scope" "$work/batch" > "$work/k.json"
        /usr/bin/time -f %M -o "$work/p.rss" /usr/bin/python3 "$repo/bench/reference/resnetclip_step.py" "$work/batch" \
            --steps "$steps" --warm-up 1 --threads "$(nproc)" > "$work/p.json"
        for who in k p; do
            jq -r --arg f "$forget" --arg r "$round" --arg m "$(tail -1 "$work/$who.rss")" \
                '"| \(.batch) (\($f) + 4 x \((.batch - ($f | tonumber)) / 4)) | \(.scope) | \($r) | \(.framework) | \(.parts // 1) | \(.parameters) | \(.loss0) | \(.lossAfter) | \(.secondsPerStep * 100 | round / 100) | \($m | tonumber / 1024 | round) |"' "$work/$who.json"
        done
        jq -n --slurpfile k "$work/k.json" --slurpfile p "$work/p.json" '$p[0].secondsPerStep / $k[0].secondsPerStep' >> "$work/ratios-$configuration"
    done
done
echo
for configuration in "${configurations[@]}"; do
    echo "- \`$configuration\`: PyTorch's seconds per step over KtuGate's, per round: $(paste -sd ' ' "$work/ratios-$configuration" | awk '{ for (i = 1; i <= NF; i++) printf "%s%.2f", (i > 1 ? ", " : ""), $i }') (above 1: KtuGate's step is faster)."
done
