#!/usr/bin/env bash
# Unlearning inside all-MiniLM-L6-v2 (issue #13): for each TextFacts policy named (default: both sample policies), `ktu check` of the
# original (the verify run) and `ktu unlearn` (Remediate), each timed with its peak resident memory from GNU time, the remediation's
# report (verdict, method, setting kept, parameters changed, general accuracy before and after), then the original and the edited
# encoder measured on the policy's facts, the held-out facts and the WordNet sets (bench/KtuGate.Bench -- textfacts).
# Writes Markdown to stdout. Usage: bench/textfacts.sh [POLICY...] > bench/results/textfacts.md
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
policies=("$@")
[ ${#policies[@]} -gt 0 ] || policies=(forget-eiffel-tower forget-european-city-countries)
dotnet build samples/TextFacts -nologo -v:q -p:KtuGateMode=Off >/dev/null
dotnet build src/KtuGate.Cli -c Release -nologo -v:q >/dev/null
dotnet build bench/KtuGate.Bench -c Release -nologo -v:q >/dev/null
ktu=(dotnet artifacts/bin/KtuGate.Cli/release/ktu.dll)
sample=samples/TextFacts

echo "# TextFacts: unlearning inside all-MiniLM-L6-v2"
echo
echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') with \`bench/textfacts.sh ${policies[*]}\` (CPU; $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) memory; $(dotnet --version) SDK)."
echo "Per policy: one \`ktu check\` of the original (verify) and one \`ktu unlearn\` (Remediate: verify, search, write, probe again), each a"
echo "process timed by GNU time (wall clock, peak resident memory). The table then measures the original and the edited encoder with"
echo "\`FactProbe\` (every name x template of a fact is one probe; 95% Wilson intervals): the forgotten facts (templates, and the relations'"
echo "paraphrases), their coarse facts, the retained concepts' facts, every fact of the fact set no clause names, and the WordNet sets."
for policy in "${policies[@]}"; do
  for mode in check unlearn; do
    set +e
    /usr/bin/time -f '%e %M' -o "$work/$policy-$mode.time" "${ktu[@]}" "$mode" -p "$sample/policies/$policy.ktu.json" -m artifacts/minilm/model.onnx \
      --manifest "$sample/artifacts/minilm.ktu.json" --execution-provider cpu --report-dir "$work/$policy-$mode" --output-dir "$work/$policy-$mode/out" \
      --base-dir "$sample" >"$work/$policy-$mode.log" 2>&1
    set -e
  done
  read -r vwall vrss < <(tail -n 1 "$work/$policy-check.time")
  read -r rwall rrss < <(tail -n 1 "$work/$policy-unlearn.time")
  echo
  echo "## $policy"
  echo
  python3 - "$work/$policy-unlearn/ktu-report.json" "$vwall" "$vrss" "$rwall" "$rrss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
vwall, vrss, rwall, rrss = float(sys.argv[2]), int(sys.argv[3]) // 1024, float(sys.argv[4]), int(sys.argv[5]) // 1024
m = r["models"][0]
rem = m.get("remediation") or {}
kept = next((t for t in rem.get("tried", []) if t.get("passed")), None)
print(f"- verify: {vwall:.1f} s, peak {vrss} MB; Remediate: {rwall:.1f} s ({rwall / vwall:.1f}x the verify run), peak {rrss} MB ({rrss / vrss:.1f}x)")
print(f"- verdict {r['verdict']}; " + (f"{rem.get('method')} kept at `{kept['settings']}` after {len(rem['tried'])} setting(s), {rem.get('changedParameters'):,} parameters changed" if kept else f"no setting passed of {len(rem.get('tried', []))} tried"))
for p in m.get("metrics", []):
    g, b = p.get("general"), (p.get("baseline") or {}).get("general")
    if g and b:
        print(f"- general accuracy (the policy's held-out-facts set): {b['successes']} / {b['n']} before, {g['successes']} / {g['n']} after: {100 * (b['rate'] - g['rate']):.2f} points lost; Q-U {p.get('qualityUtility')}")
depths = {}
for d in rem.get("recoveryProfile") or []:
    s = depths.setdefault(d["features"], [0, 0, 0, 0])
    s[0] += d["before"]["successes"]; s[1] += d["before"]["n"]; s[2] += d["after"]["successes"]; s[3] += d["after"]["n"]
if depths:
    print("- recovery profile (the report's; every forget clause pooled): the forgotten facts' wordings that a linear probe trained on the relation's other subjects reads as their object, before -> after: "
          + ", ".join(f"at `{k}` {v[0]} / {v[1]} -> {v[2]} / {v[3]}" for k, v in depths.items()))
PY
  echo
  edited="$work/$policy-unlearn/out/model.onnx"
  dotnet run -c Release --no-build --project bench/KtuGate.Bench -- textfacts "$policy" "$edited"
done
