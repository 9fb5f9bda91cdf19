#!/usr/bin/env bash
# Remediation by scope: the last layer against deeper scopes trained through the network, per sample policy.
#
# For each row: `ktu check` (the verify run, timed) and `ktu unlearn --scope S --method M` (timed, peak resident memory
# from GNU time), then from the remediation's report: the verdict, the method and setting kept, how many settings were
# tried, the scope, the parameters changed, and Q, U, Q-U and general accuracy judged on the held-out exemplars against
# the original. A scope that lists layers without "last" trains only them (the last layer is not tried first).
# Writes Markdown to stdout. Usage: bench/deep-remediation.sh > bench/results/deep-remediation.md
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build "$repo/src/KtuGate.Cli" -c Release -nologo -v:q -o "$work/ktu" >/dev/null
ktu=(dotnet "$work/ktu/ktu.dll")

echo "# Remediation by scope"
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), CPU only; $(date -u +%Y-%m-%d)."
echo "Each row is one \`ktu unlearn\` run (one process: verify, search, write, probe) against one \`ktu check\` of the original, in the same run of this script."
echo "Peak RSS is GNU time's maximum resident set size of each process (the unlearn process verifies, searches, writes and probes again)."
echo "The linear probe is the forget clause's, as ktu check reports it under a metrics.maxLinearProbeAccuracy bound: can a logistic regression on the last layer's input still tell the concept's exemplars from its siblings' (held-out accuracy; the majority-class rate is 0.667 for sneaker against sandal and ankle boot)."
echo "Q, U, Q-U and general accuracy are the report's, judged on the held-out exemplars (remedy.holdOut) against the original."
echo
echo "| Sample | Policy | Scope | Methods | Verdict | Kept | Settings tried | Parameters changed | Q | U | Q-U | General | Linear probe (siblings), original → edited | Verify (s) | Unlearn (s) | x verify | Verify peak RSS (MB) | Unlearn peak RSS (MB) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
probe() { # SAMPLE POLICY ARTIFACT: the forget clause's linear-probe accuracy against its siblings at the last layer's input, as ktu check reports it
    local copy="$work/probe-$1-$2"
    if [ ! -d "$copy" ]; then
        cp -r "$repo/samples/$1/policies" "$copy"
        # A bound every artifact meets: only to make the check read the probe (the report records it).
        jq '. + { metrics: ((.metrics // {}) + { maxLinearProbeAccuracy: 1 }) }' <(grep -v '^ *//' "$copy/$2.ktu.json") > "$copy/$2.tmp" && mv "$copy/$2.tmp" "$copy/$2.ktu.json"
    fi
    (cd "$repo/samples/$1" && "${ktu[@]}" check -p "$copy/$2.ktu.json" -m "$3" --report-dir "$copy/report" >/dev/null 2>&1 || true)
    jq -r '[.models[0].clauses[] | select(.kind == "forget") | .linearProbe.accuracy.rate] | map(. * 1000 | round / 1000 | tostring) | join(", ")' "$copy/report/ktu-report.json"
}
row() { # SAMPLE MODEL POLICY SCOPE METHODS
    local sample=$1 model=$2 policy=$3 scope=$4 methods=$5 out="$work/$RANDOM"
    local args=()
    for m in $methods; do args+=(--method "$m"); done
    cd "$repo/samples/$sample"
    local t0 t1 t2
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$out.verify.rss" "${ktu[@]}" check -p "policies/$policy.ktu.json" -m "artifacts/$model" --report-dir "$out/verify" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$out.rss" "${ktu[@]}" unlearn -p "policies/$policy.ktu.json" -m "artifacts/$model" --scope "$scope" "${args[@]}" \
        --report-dir "$out/report" --output-dir "$out/out" >/dev/null 2>&1 || true
    t2=$(date +%s.%N)
    local verify unlearn before after
    before=$(probe "$sample" "$policy" "$repo/samples/$sample/artifacts/$model")
    after=$( [ -f "$out/out/$model" ] && probe "$sample" "$policy" "$out/out/$model" || echo "-")
    verify=$(echo "$t1 - $t0" | bc -l); unlearn=$(echo "$t2 - $t1" | bc -l)
    jq -r --arg s "$sample" --arg p "$policy" --arg scope "$scope" --arg meth "$methods" --arg v "$verify" --arg u "$unlearn" --arg rss "$(tail -1 "$out.rss")" --arg vrss "$(tail -1 "$out.verify.rss")" --arg lp "$before → $after" '
        def n(x): if x == null then "-" else (x * 10000 | round / 10000 | tostring) end;
        .models[0] as $m | ($m.metrics | min_by(.qualityUtility // 2)) as $q | $m.remediation as $r
        | "| \($s) | \($p) | \($scope) | \($meth) | \(.verdict) | \($r.method // "none") \(($r.tried // [])[-1].settings // "") | \(($r.tried // []) | length) | \($r.changedParameters // "-") | \(n($q.quality)) | \(n($q.utility)) | \(n($q.qualityUtility)) | \(n($q.general.rate)) | \($lp) | \($v | tonumber * 10 | round / 10) | \($u | tonumber * 10 | round / 10) | \(($u | tonumber) / ($v | tonumber) * 10 | round / 10) | \($vrss | tonumber / 1024 | round) | \($rss | tonumber / 1024 | round) |"
    ' "$out/report/ktu-report.json"
}
row FashionGate fashion-classifier.onnx retire-sneaker last "closed-form nhl-kl"
row FashionGate fashion-classifier.onnx retire-sneaker all "nhl-kl"
row FashionGate fashion-classifier.onnx retire-sneaker "/fc1/Gemm,conv2" "nhl-kl"
row FashionGate fashion-classifier.onnx retire-sneaker "conv1,conv2,fc1,fc2" "nhl-kl"
row FashionClip fashion-clip.onnx retire-sneaker last "nhl-kl"
row FashionClip fashion-clip.onnx retire-sneaker "conv,fc1,proj" "nhl-kl"
