#!/usr/bin/env bash
# Shows that a refactoring changed no verdict: runs `ktu check` (Verify) and `ktu unlearn` (Remediate) on the four samples,
# keeps their JSON reports, and compares two such captures field by field, apart from the tool version and the timestamp.
#
#   bench/compare-reports.sh capture /tmp/ktu-before     # on the commit before the change (ktu built: dotnet build src/KtuGate.Cli)
#   bench/compare-reports.sh capture /tmp/ktu-after      # on the commit after it
#   bench/compare-reports.sh diff /tmp/ktu-before /tmp/ktu-after
#
# FashionClip's text tower and TextFacts' encoder must be extracted first: dotnet build samples/FashionClip/text-tower/ExtractMiniLm
# (both read artifacts/minilm/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# KTU names another build of ktu.dll (a copy of the build before the change, so that building again does not disturb a capture).
ktu="${KTU:-$root/artifacts/bin/KtuGate.Cli/debug/ktu.dll}"
# The report's timestamp comes from SOURCE_DATE_EPOCH; fixed here so that it matches between captures anyway.
export SOURCE_DATE_EPOCH=1767225600

run() {
  local name=$1 verb=$2 model=$3 policy=$4 out=$5
  shift 5  # the rest: extra arguments (a manifest beside a model that is not the sample's own)
  # Exit codes 0-4 are verdicts (a sample in Verify fails by design); anything else is a crash.
  # Every capture writes into the same ignored folder under the repository (so that the paths the reports record match), then keeps a copy.
  local work="$root/bench/out/compare/$name" rc=0
  rm -rf "$work" "$out/$name"
  dotnet "$ktu" "$verb" -m "$model" -p "$policy" --base-dir "$root" --report-dir "$work" --execution-provider cpu "$@" >"$out/$name.log" 2>&1 || rc=$?
  cp -r "$work" "$out/$name"
  echo "$name: exit $rc"
  [ "$rc" -le 4 ] || { cat "$out/$name.log"; exit 1; }
}

# Only these two fields may differ: the tool version (it names the commit) and the timestamp.
normalise() { jq -S 'del(.tool.version, .generatedAt)' "$1"; }
# A rendering with its capture's tool version replaced (the timestamp is the same in both: SOURCE_DATE_EPOCH).
blank() { local version; version=$(jq -r .tool.version "$1/ktu-report.json"); sed "s|$version|TOOL-VERSION|g" "$1/$2"; }

case "${1:-}" in
  capture)
    out=$(mkdir -p "$2" && cd "$2" && pwd)
    cd "$root"
    run gate-check check samples/FashionGate/artifacts/fashion-classifier.onnx samples/FashionGate/policies/retire-sneaker.ktu.json "$out"
    run gate-unlearn unlearn samples/FashionGate/artifacts/fashion-classifier.onnx samples/FashionGate/policies/retire-sneaker.ktu.json "$out"
    run clip-check check samples/FashionClip/artifacts/fashion-clip.onnx samples/FashionClip/policies/retire-sneaker.ktu.json "$out"
    run clip-unlearn unlearn samples/FashionClip/artifacts/fashion-clip.onnx samples/FashionClip/policies/retire-sneaker.ktu.json "$out"
    facts=(--manifest samples/TextFacts/artifacts/minilm.ktu.json)
    run facts-check check artifacts/minilm/model.onnx samples/TextFacts/policies/forget-eiffel-tower.ktu.json "$out" "${facts[@]}"
    run facts-unlearn unlearn artifacts/minilm/model.onnx samples/TextFacts/policies/forget-eiffel-tower.ktu.json "$out" "${facts[@]}"
    run lm-check check samples/TinyLm/artifacts/tinylm.onnx samples/TinyLm/policies/forget-five-people.ktu.json "$out"
    run lm-unlearn unlearn samples/TinyLm/artifacts/tinylm.onnx samples/TinyLm/policies/forget-five-people.ktu.json "$out"
    ;;
  diff)
    status=0
    for name in gate-check gate-unlearn clip-check clip-unlearn facts-check facts-unlearn lm-check lm-unlearn; do
      if diff <(normalise "$2/$name/ktu-report.json") <(normalise "$3/$name/ktu-report.json") >"/tmp/compare-reports.$name.diff"; then
        echo "$name: identical apart from tool.version and generatedAt"
      else
        echo "$name: DIFFERS (see /tmp/compare-reports.$name.diff)"; status=1
      fi
      # The other renderings (and the edited artifact) must match too, once each capture's tool version is blanked; the in-toto
      # statement is left out: it holds the digests of reports that name their tool version.
      for other in ktu-report.html ktu-report.md ktu-report.sarif ktu-report.junit.xml fashion-classifier.onnx fashion-clip.onnx model.onnx tinylm.onnx; do
        [ -e "$2/$name/$other" ] || [ -e "$3/$name/$other" ] || continue
        if ! cmp -s <(blank "$2/$name" "$other") <(blank "$3/$name" "$other"); then
          echo "$name/$other: DIFFERS"; status=1
        fi
      done
    done
    exit $status
    ;;
  *) echo "usage: $0 capture DIR | diff BEFORE AFTER" >&2; exit 2 ;;
esac
