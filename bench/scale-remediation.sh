#!/usr/bin/env bash
# Whole remediations of samples/ResNetClip's image tower (ResNet-18 at 224x224 + projection), end to end, against PyTorch's fine-tuning
# alone at the same steps and batch, in one run on one machine (issue #14 item 2).
#
# For each SCOPE (as `ktu unlearn --scope` takes it, entries separated by commas):
# - the gate: `ktu check` (verify) and `ktu unlearn --scope SCOPE --method nhl-kl` on the sample's retire-sneaker policy, each one process
#   timed with GNU time (wall, peak resident memory). The unlearn process is the gate end to end: it verifies the original, searches the
#   settings (training, judging every checkpoint on the held-out exemplars), writes the edited tower and probes it again;
# - PyTorch: bench/reference/resnetclip_step.py trains the same scope with the same NHL+KL loss and AdamW (lr and KL weight of the setting
#   the gate kept) for the kept setting's steps, on a batch of the gate's size (64 sneakers and 20 of each of sandal, ankle boot, t-shirt
#   and bag: 144 images, written by `dotnet bench/KtuGate.Bench deep-step-resnet`), fed in parts of 32 images with their gradients summed
#   (as the gate feeds it; the whole batch at once took 19.6 s a step at scope last against 3.7 s in parts, on the machine of the first
#   recording), one process timed with GNU time. It only trains: it decodes nothing, judges nothing, writes nothing, and is told the
#   setting the gate had to search for.
# Needs samples/ResNetClip built (`dotnet build samples/ResNetClip`), Debian python3-torch, python3-onnx, jq, bc and GNU time.
# Usage: bench/scale-remediation.sh [SCOPE...] > bench/results/scale-remediation.md
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/bench/machine.sh"
scopes=("$@")
[ ${#scopes[@]} -gt 0 ] || scopes=(last all Convolution381,Convolution387,/proj/Gemm)
tower="$repo/artifacts/resnetclip/resnet-clip.onnx"
[ -f "$tower" ] || { echo "Build samples/ResNetClip first: it composes $tower." >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build "$repo/src/KtuGate.Cli" -c Release -nologo -v:q >/dev/null
dotnet build "$repo/bench/KtuGate.Bench" -c Release -nologo -v:q >/dev/null
ktu=(dotnet "$repo/artifacts/bin/KtuGate.Cli/release/ktu.dll")
sample="$repo/samples/ResNetClip"
gate=(-p policies/retire-sneaker.ktu.json -m "$tower" --manifest artifacts/resnet-clip.ktu.json)

echo "# Remediation at realistic size: KtuGate end to end against PyTorch's fine-tuning alone"
echo
echo "Machine: $(machine), CPU only; $(date -u +%Y-%m-%d); load average before the run $(cut -d' ' -f1-3 /proc/loadavg)."
echo "samples/ResNetClip, policy retire-sneaker, method nhl-kl. \`bench/scale-remediation.sh ${scopes[*]}\`."
echo "KtuGate: one \`ktu unlearn --scope S --method nhl-kl\` process (verify the original, search the settings with every checkpoint judged"
echo "on the held-out exemplars, write the edited tower, probe it again), beside one \`ktu check\` (verify) of the original."
echo "PyTorch: bench/reference/resnetclip_step.py, the same scope, loss and AdamW at the setting the gate kept (the last it tried where none passed), for its steps, on a batch"
echo "of the gate's size (144 images of 3x224x224) fed in parts of 32 with their gradients summed, as the gate feeds it, one process: load"
echo "the tower, train, nothing else. Peak RSS: GNU time's maximum resident set size."
echo
echo "| Scope | Parameters trained | Verdict | Kept setting | Settings tried | Steps trained (all settings) | Q-U (held-out) | Verify (s) | KtuGate end to end (s) | PyTorch fine-tuning alone, kept setting's steps (s) | KtuGate end to end / PyTorch | Verify peak RSS (MB) | KtuGate peak RSS (MB) | PyTorch peak RSS (MB) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for scope in "${scopes[@]}"; do
    out="$work/$RANDOM"
    cd "$sample"
    /usr/bin/time -f "%e %M" -o "$out.verify" "${ktu[@]}" check "${gate[@]}" --report-dir "$out/verify" >/dev/null 2>&1 || true
    /usr/bin/time -f "%e %M" -o "$out.unlearn" "${ktu[@]}" unlearn "${gate[@]}" --scope "$scope" --method nhl-kl \
        --report-dir "$out/report" --output-dir "$out/out" >/dev/null 2>"$out.log" || true
    report="$out/report/ktu-report.json"
    [ -f "$report" ] || { echo "ktu unlearn --scope $scope wrote no report:" >&2; tail -5 "$out.log" >&2; exit 1; }
    # The kept (last tried) setting: "scope=... lr=L kl=K steps=N" for a deep setting, "lr=L kl=K steps=N" at the last layer.
    kept=$(jq -r '.models[0].remediation.tried[-1].settings // ""' "$report")
    field() { grep -o "$1=[^ ]*" <<< "$kept" | head -1 | cut -d= -f2; }
    steps=$(field steps); lr=$(field lr); kl=$(field kl)
    cd "$repo"
    dotnet run -c Release --no-build --project bench/KtuGate.Bench -- deep-step-resnet 0 64 20 "$scope" "$out/batch" > "$out/k.json"
    jq --argjson lr "$lr" --argjson kl "$kl" '.learningRate = $lr | .klWeight = $kl' "$out/batch/setup.json" > "$out/setup.json"
    mv "$out/setup.json" "$out/batch/setup.json"
    /usr/bin/time -f "%e %M" -o "$out.torch" /usr/bin/python3 bench/reference/resnetclip_step.py "$out/batch" \
        --steps "$steps" --warm-up 0 --threads "$(nproc)" --part 32 > "$out/p.json"
    # GNU time writes "Command exited with non-zero status N" first where a process fails (a verify of the original does): its last line.
    read -r vs vk < <(tail -1 "$out.verify"); read -r us uk < <(tail -1 "$out.unlearn"); read -r ps pk < <(tail -1 "$out.torch")
    jq -r --arg scope "$scope" --argjson params "$(jq .parameters "$out/k.json")" --arg vs "$vs" --arg vk "$vk" --arg us "$us" --arg uk "$uk" \
        --arg ps "$ps" --arg pk "$pk" '
        def mb(k): k | tonumber / 1024 | round;
        def s(x): x | tonumber * 10 | round / 10;
        .models[0] as $m | $m.remediation as $r | ($m.metrics | min_by(.qualityUtility // 2)) as $q
        | ([($r.tried // [])[].settings | capture("steps=(?<n>[0-9]+)").n | tonumber] | add) as $trained
        | "| \($scope) | \($params) | \(.verdict) | \($r.method // "none") \(($r.tried // [])[-1].settings // "") | \(($r.tried // []) | length) | \($trained) | \(if $q.qualityUtility == null then "-" else ($q.qualityUtility * 10000 | round / 10000) end) | \(s($vs)) | \(s($us)) | \(s($ps)) | \(($us | tonumber) / ($ps | tonumber) * 100 | round / 100) | \(mb($vk)) | \(mb($uk)) | \(mb($pk)) |"
    ' "$report"
done
