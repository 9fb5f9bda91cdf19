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
. "$repo/bench/machine.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build "$repo/src/KtuGate.Cli" -c Release -nologo -v:q -o "$work/ktu" >/dev/null
ktu=(dotnet "$work/ktu/ktu.dll")

echo "# Remediation by scope"
echo
echo "Machine: $(machine), CPU only; $(date -u +%Y-%m-%d)."
echo "Each row is one \`ktu unlearn\` run (one process: verify, search, write, probe) against one \`ktu check\` of the original, in the same run of this script."
echo "Peak RSS is GNU time's maximum resident set size of each process (the unlearn process verifies, searches, writes and probes again)."
echo "The linear probe is the forget clause's recovery profile in the remediation's report (remediation.recoveryProfile): can a logistic regression tell the concept's exemplars from its siblings' (held-out accuracy) at each depth the kept edit trained (each trained layer's output) and at the last layer's input (marked *), on the original → the edited artifact? The majority-class rate is 0.667 for sneaker against sandal and ankle boot; \"-\" where nothing was written."
echo "Q, U, Q-U and general accuracy are the report's, judged on the held-out exemplars (remedy.holdOut) against the original."
echo "With KTU_BENCH_PROBE_BOUND=1, rows for a policy marked \"+probe\": the sample's policy with metrics.maxLinearProbeAccuracy 0.767 (the majority-class rate + 10 points) and remedy.scope \"all\" added."
echo
echo "| Sample | Policy | Scope | Methods | Verdict | Kept | Settings tried | Parameters changed | Q | U | Q-U | General | Linear probe (siblings) per depth, original → edited | Verify (s) | Unlearn (s) | x verify | Verify peak RSS (MB) | Unlearn peak RSS (MB) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
bounded() { # SAMPLE POLICY: a copy of the sample's policies with the policy's linear probe bounded and its scope "all"; prints the copy's path
    local copy="$work/bounded-$1"
    if [ ! -d "$copy" ]; then
        cp -r "$repo/samples/$1/policies" "$copy"
    fi
    jq '. + { metrics: ((.metrics // {}) + { maxLinearProbeAccuracy: 0.767 }), remedy: (.remedy + { scope: "all" }) }' <(grep -v '^ *//' "$copy/$2.ktu.json") > "$copy/$2+probe.ktu.json"
    echo "$copy/$2+probe.ktu.json"
}
row() { # SAMPLE MODEL POLICY SCOPE METHODS (POLICY: a name under the sample's policies/, or a path)
    local sample=$1 model=$2 policy=$3 scope=$4 methods=$5 out="$work/$RANDOM"
    local args=() path="policies/$3.ktu.json"
    case "$policy" in /*) path=$policy; policy=$(basename "$policy" .ktu.json) ;; esac
    for m in $methods; do args+=(--method "$m"); done
    cd "$repo/samples/$sample"
    local t0 t1 t2
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$out.verify.rss" "${ktu[@]}" check -p "$path" -m "artifacts/$model" --report-dir "$out/verify" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$out.rss" "${ktu[@]}" unlearn -p "$path" -m "artifacts/$model" --scope "$scope" "${args[@]}" \
        --report-dir "$out/report" --output-dir "$out/out" >/dev/null 2>&1 || true
    t2=$(date +%s.%N)
    local verify unlearn
    verify=$(echo "$t1 - $t0" | bc -l); unlearn=$(echo "$t2 - $t1" | bc -l)
    jq -r --arg s "$sample" --arg p "$policy" --arg scope "$scope" --arg meth "$methods" --arg v "$verify" --arg u "$unlearn" --arg rss "$(tail -1 "$out.rss")" --arg vrss "$(tail -1 "$out.verify.rss")" '
        def n(x): if x == null then "-" else (x * 10000 | round / 10000 | tostring) end;
        def r3(x): x * 1000 | round / 1000 | tostring;
        .models[0] as $m | ($m.metrics | min_by(.qualityUtility // 2)) as $q | $m.remediation as $r
        | ([($r.recoveryProfile // [])[] | "\(if (.concept | length) > 0 and ([$r.recoveryProfile[].concept] | unique | length) > 1 then .concept + " " else "" end)\(.features)\(if .siteInput then "*" else "" end) \(r3(.before.rate)) → \(r3(.after.rate))"] | join("; ")) as $lp
        | "| \($s) | \($p) | \($scope) | \($meth) | \(.verdict) | \($r.method // "none") \(($r.tried // [])[-1].settings // "") | \(($r.tried // []) | length) | \($r.changedParameters // "-") | \(n($q.quality)) | \(n($q.utility)) | \(n($q.qualityUtility)) | \(n($q.general.rate)) | \(if $lp == "" then "-" else $lp end) | \($v | tonumber * 10 | round / 10) | \($u | tonumber * 10 | round / 10) | \(($u | tonumber) / ($v | tonumber) * 10 | round / 10) | \($vrss | tonumber / 1024 | round) | \($rss | tonumber / 1024 | round) |"
    ' "$out/report/ktu-report.json"
}
row FashionGate fashion-classifier.onnx retire-sneaker last "closed-form nhl-kl"
row FashionGate fashion-classifier.onnx retire-sneaker all "nhl-kl"
row FashionGate fashion-classifier.onnx retire-sneaker "/fc1/Gemm,conv2" "nhl-kl"
row FashionClip fashion-clip.onnx retire-sneaker last "nhl-kl"
row FashionClip fashion-clip.onnx retire-sneaker all "nhl-kl"
row FashionClip fashion-clip.onnx retire-three all "nhl-kl"
if [ "${KTU_BENCH_PROBE_BOUND:-0}" = 1 ]; then
    # Long (every setting, with and without the feature-level term, where none meets the bound): only when asked.
    row FashionGate fashion-classifier.onnx "$(bounded FashionGate retire-sneaker)" all "nhl-kl"
    row FashionClip fashion-clip.onnx "$(bounded FashionClip retire-sneaker)" all "nhl-kl"
fi
