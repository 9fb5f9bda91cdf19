#!/usr/bin/env bash
# Peak memory of `ktu check` (verify) at realistic size against the number of exemplars (issue #14: it should stay flat, since
# exemplars are streamed a batch at a time). samples/ResNetClip's retire-sneaker policy is copied into a scratch folder with every
# concept's exemplar files repeated FACTOR times (copies under new names; the general set is left as it is), and verified once per
# factor with GNU time (wall clock, peak resident memory). Prints Markdown.
# Usage: dotnet build samples/ResNetClip; bench/scale-memory.sh [FACTOR...] > bench/results/scale-memory.md   (default 1 2 4)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
factors=("$@")
[ ${#factors[@]} -gt 0 ] || factors=(1 2 4)
tower=artifacts/resnetclip/resnet-clip.onnx
if [ ! -f "$tower" ]; then
  echo "Build samples/ResNetClip first: it composes $tower and extracts the text tower." >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build src/KtuGate.Cli -c Release -nologo -v:q >/dev/null

echo "# Peak memory against the number of exemplars: samples/ResNetClip"
echo
echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') with \`bench/scale-memory.sh ${factors[*]}\` (CPU; $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) memory; load average before the run $(cut -d' ' -f1-3 /proc/loadavg); $(dotnet --version) SDK)."
echo "\`ktu check --mode verify\` of the ResNet-18 + projection tower (224x224, batch 64) with the retire-sneaker policy, its concepts'"
echo "exemplar files repeated FACTOR times (copies under new names); the 50 general-set images stay as they are. Each run is one process"
echo "timed by GNU time. Forward passes: every exemplar once, the forget concept's twice more (mirrored and noisy), and the general set."
echo
echo "| factor | exemplar files | forward passes | wall (s) | peak resident memory (MB) | verdict |"
echo "| --- | --- | --- | --- | --- | --- |"
for factor in "${factors[@]}"; do
  case="$work/x$factor"
  mkdir -p "$case"
  cp samples/ResNetClip/policies/retire-sneaker.ktu.json "$case/"
  cp -r samples/ResNetClip/policies/general "$case/general"
  files=0
  for folder in samples/ResNetClip/policies/exemplars/*/; do
    label=$(basename "$folder")
    mkdir -p "$case/exemplars/$label"
    for file in "$folder"*.png; do
      for copy in $(seq 1 "$factor"); do
        cp "$file" "$case/exemplars/$label/$(basename "$file" .png)-$copy.png"
        files=$((files + 1))
      done
    done
  done
  forget=$(find "$case/exemplars/sneaker" -name '*.png' | wc -l)
  general=$(find "$case/general" -name '*.png' | wc -l)
  set +e
  /usr/bin/time -f '%e %M' -o "$work/x$factor.time" dotnet artifacts/bin/KtuGate.Cli/release/ktu.dll check --mode verify \
    -m "$tower" --manifest samples/ResNetClip/artifacts/resnet-clip.ktu.json -p "$case/retire-sneaker.ktu.json" \
    --execution-provider cpu --batch-size 64 --report-dir "$work/x$factor-report" --base-dir "$case" >"$work/x$factor.log" 2>&1
  set -e
  read -r wall rss < <(tail -n 1 "$work/x$factor.time")
  verdict=$(jq -r .verdict "$work/x$factor-report/ktu-report.json" 2>/dev/null || echo "no report")
  echo "| $factor | $files | $((files + 2 * forget + general)) | $wall | $((rss / 1024)) | $verdict |"
done
