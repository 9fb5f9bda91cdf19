#!/usr/bin/env bash
# The gate at realistic size (samples/ResNetClip: ResNet-18 at 224x224 + MiniLM), in one run on one machine:
# the gate's probe against raw ONNX Runtime on pre-decoded tensors (bench/KtuGate.Bench scale), then
# `ktu check` in verify and in remediate mode (scope last: the projection) end to end, with wall time and
# peak resident memory (/usr/bin/time). Prints Markdown.
# Usage: dotnet build samples/ResNetClip; bench/scale.sh [BATCH] > bench/results/scale.md   (default batch 64)
set -euo pipefail
batch=${1:-64}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tower=artifacts/resnetclip/resnet-clip.onnx
if [ ! -f "$tower" ]; then
  echo "Build samples/ResNetClip first: it composes $tower and extracts the text tower." >&2
  exit 1
fi

dotnet build src/KtuGate.Cli -c Release -nologo -v:q >/dev/null
dotnet build bench/KtuGate.Bench -c Release -nologo -v:q >/dev/null

echo "# Scale benchmark: samples/ResNetClip"
echo
echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') with \`bench/scale.sh $batch\` (CPU; $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) memory; $(dotnet --version) SDK)."
echo
dotnet run -c Release --no-build --project bench/KtuGate.Bench -- scale "$batch"
echo
echo "## \`ktu check\` end to end (policy retire-sneaker, $(find samples/ResNetClip/policies -name '*.png' | wc -l) exemplar files)"
echo
echo "| command | wall (s) | peak resident memory (MB) | result |"
echo "| --- | --- | --- | --- |"
for mode in verify remediate; do
  set +e
  /usr/bin/time -f '%e %M' -o "$work/$mode.time" dotnet artifacts/bin/KtuGate.Cli/release/ktu.dll check --mode "$mode" \
    -m "$tower" --manifest samples/ResNetClip/artifacts/resnet-clip.ktu.json -p samples/ResNetClip/policies/retire-sneaker.ktu.json \
    --execution-provider cpu --batch-size "$batch" --report-dir "$work/$mode" --base-dir samples/ResNetClip >"$work/$mode.log" 2>&1
  set -e
  read -r wall rss < <(tail -n 1 "$work/$mode.time")
  result=$(python3 - "$work/$mode/ktu-report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["models"][0]
text = f"verdict {r['verdict']}"
rem = m.get("remediation")
if rem:
    tried = rem["tried"]
    chosen = next((t for t in tried if t["passed"]), None)
    text += f"; {len(tried)} settings tried, judged in memory: {rem.get('judgedInMemory')}"
    if chosen:
        text += f"; {chosen['method']} ({chosen['settings']}) at {rem['site']['node']}, held-out Q-U {chosen['qualityUtility']:.3f}"
print(text)
PY
)
  echo "| \`ktu check --mode $mode\` | $wall | $((rss / 1024)) | $result |"
done
echo
echo "Remediate runs the verify pass first (the original's measurements are the baseline), then the edit search and the"
echo "edited artifact's probe; its wall time minus verify's is what remediation (scope \`last\`) adds."
