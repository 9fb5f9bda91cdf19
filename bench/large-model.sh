#!/usr/bin/env bash
# A model whose weights exceed 2 GiB, held as ONNX external data (issue #14 item 3): bench/KtuGate.Bench writes FashionGate's
# classifier behind a [784, WIDTH] MatMul (default width 686000: 2.00 GiB of float32 weights in large-classifier.onnx.data) to a
# scratch folder, then `ktu check` verifies and remediates it (policy retire-sneaker, scope last) with /usr/bin/time, next to the
# same runs on FashionGate's own model, and a verify run with --max-memory 3G (below twice the weights: KTU5070, no pre-packed copy).
# Peak resident memory minus FashionGate's shows how many times the weights were held.
# Prints Markdown. Usage: bench/large-model.sh [WIDTH] > bench/results/large-model.md   (needs about 7 GiB of free disk)
set -euo pipefail
width=${1:-686000}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet build src/KtuGate.Cli -c Release -nologo -v:q >/dev/null
dotnet build bench/KtuGate.Bench -c Release -nologo -v:q >/dev/null
written=$(dotnet run -c Release --no-build --project bench/KtuGate.Bench -- large-model "$work/model" "$width")

echo "# A model with over 2 GiB of external weights"
echo
echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') with \`bench/large-model.sh $width\` (CPU; $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) memory; $(dotnet --version) SDK; load average before the runs $(cut -d' ' -f1-3 /proc/loadavg))."
echo
echo "- model: ${written#"$work/model/"}; the model file itself is $(stat -c %s "$work/model/large-classifier.onnx") bytes"
echo "- FashionGate's classifier behind a [784, $width] MatMul (identity in its first 784 columns, zero elsewhere) and a Slice back:"
echo "  it classifies exactly as FashionGate does, while ONNX Runtime multiplies every image by the whole weight"
echo
echo "| model | command | wall (s) | peak resident memory (MB) | result |"
echo "| --- | --- | --- | --- | --- |"
run() {
  local name=$1 artifact=$2 manifest=$3 mode=$4
  shift 4
  set +e
  /usr/bin/time -f '%e %M' -o "$work/$name-$mode.time" dotnet artifacts/bin/KtuGate.Cli/release/ktu.dll check --mode "$mode" \
    -m "$artifact" --manifest "$manifest" -p samples/FashionGate/policies/retire-sneaker.ktu.json \
    --execution-provider cpu --report-dir "$work/$name-$mode" --output-dir "$work/$name-$mode/out" --base-dir samples/FashionGate "$@" >"$work/$name-$mode.log" 2>&1
  local rc=$?
  set -e
  read -r wall rss < <(tail -n 1 "$work/$name-$mode.time")
  local result
  result=$(python3 - "$work/$name-$mode/ktu-report.json" "$rc" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except OSError:
    print(f"no report (exit {sys.argv[2]})"); sys.exit()
m = r["models"][0]
text = f"exit {sys.argv[2]}, verdict {r['verdict']}"
rem = m.get("remediation")
if rem:
    chosen = next((t for t in rem["tried"] if t["passed"]), None)
    if chosen:
        text += f"; {chosen['method']} ({chosen['settings']}) at {rem['site']['node']}, held-out Q-U {chosen['qualityUtility']:.4f}"
print(text)
PY
)
  if grep -q KTU5070 "$work/$name-$mode.log"; then result="$result; KTU5070: weights held once"; fi
  echo "| $name | \`ktu check --mode $mode${*:+ $*}\` | $wall | $((rss / 1024)) | $result |"
}
for mode in verify remediate; do
  run fashion-gate samples/FashionGate/artifacts/fashion-classifier.onnx samples/FashionGate/artifacts/fashion-classifier.ktu.json "$mode"
  run large "$work/model/large-classifier.onnx" "$work/model/large-classifier.ktu.json" "$mode"
done
# Under a memory limit below twice the weights, ONNX Runtime's pre-packed copy is turned off (KTU5070).
run large-3G "$work/model/large-classifier.onnx" "$work/model/large-classifier.ktu.json" verify --max-memory 3G
out="$work/large-remediate/out"
echo
echo "Published by the large model's remediation: $(cd "$out" 2>/dev/null && ls | tr '\n' ' ')"
if [ -f "$out/large-classifier.onnx.data" ]; then
  if cmp -s "$out/large-classifier.onnx.data" "$work/model/large-classifier.onnx.data"; then
    echo "(its external data is byte-identical to the input's: only the edit site, stored in the model file, changed)."
  else
    echo "(its external data DIFFERS from the input's)."
  fi
fi
