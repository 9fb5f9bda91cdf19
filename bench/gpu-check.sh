#!/usr/bin/env bash
# The GPU check (issues #12 item 6, #14 item 4), prepared for a machine with an NVIDIA GPU, the CUDA and cuDNN libraries ONNX
# Runtime 1.31 needs, and the .NET 10 SDK with this repository's packages restored: every sample gated with `ktu check` on the
# CPU provider and on the CUDA provider, results compared concept by concept, wall times recorded. It fails closed: where the
# CUDA provider does not load, `--execution-provider cuda` ends with KTU5040/KTU5004 and this script says so and exits 2,
# recording no GPU number. Runs in about 5 minutes where the GPU machine has a few cores (ResNetClip's verify dominates).
# Usage: bench/gpu-check.sh > bench/results/gpu-check.md
#        bench/gpu-check.sh --cpu-twice   (no GPU: runs the second pass on the CPU too, to try the script's comparison itself)
# Not run on a GPU by this repository's CI or its developers' machines (none has one): see the README's performance section.
set -euo pipefail
second=cuda
[ "${1:-}" = --cpu-twice ] && second=cpu
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet build src/KtuGate.Cli -c Release -nologo -v:q >/dev/null
# The samples' artifacts that are extracted or composed at build time (MiniLM, ResNet-18 + projection).
dotnet build samples/FashionClip -p:KtuGateMode=Off -nologo -v:q >/dev/null
dotnet build samples/ResNetClip -p:KtuGateMode=Off -nologo -v:q >/dev/null
if [ -z "${KTU_ONNXRUNTIME_DIR:-}" ]; then
  # The CUDA build of ONNX Runtime that KtuGate.Cuda brings, from the package folder the restore filled.
  KTU_ONNXRUNTIME_DIR=$(ls -d "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/microsoft.ml.onnxruntime.gpu.linux/1.31.0/runtimes/linux-x64/native 2>/dev/null || true)
  export KTU_ONNXRUNTIME_DIR
fi

ktu=artifacts/bin/KtuGate.Cli/release/ktu.dll
# name|model|manifest|policy|base folder
samples=(
  "FashionGate|samples/FashionGate/artifacts/fashion-classifier.onnx|samples/FashionGate/artifacts/fashion-classifier.ktu.json|samples/FashionGate/policies/retire-sneaker.ktu.json|samples/FashionGate"
  "FashionClip|samples/FashionClip/artifacts/fashion-clip.onnx|samples/FashionClip/artifacts/fashion-clip.ktu.json|samples/FashionClip/policies/retire-three.ktu.json|samples/FashionClip"
  "ResNetClip|artifacts/resnetclip/resnet-clip.onnx|samples/ResNetClip/artifacts/resnet-clip.ktu.json|samples/ResNetClip/policies/retire-sneaker.ktu.json|samples/ResNetClip"
)

echo "# GPU check"
echo
echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') with \`bench/gpu-check.sh\` ($(nproc) cores; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -n 1 || echo 'no nvidia-smi'); $(dotnet --version) SDK)."
echo
echo "| sample | policy | CPU wall (s) | ${second^^} wall (s) | CPU / ${second^^} | provider that ran (second pass) | verdicts | largest rate difference |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
status=0
for entry in "${samples[@]}"; do
  IFS='|' read -r name model manifest policy base <<<"$entry"
  for pass in first second; do
    provider=cpu
    [ "$pass" = second ] && provider=$second
    set +e
    /usr/bin/time -f '%e' -o "$work/$name-$pass.time" dotnet "$ktu" check --mode verify -m "$model" --manifest "$manifest" -p "$policy" \
      --execution-provider "$provider" --report-dir "$work/$name-$pass" --base-dir "$base" >"$work/$name-$pass.log" 2>&1
    set -e
    if [ "$provider" = cuda ] && grep -qE 'KTU5040|KTU5004|KTU5041' "$work/$name-$pass.log"; then
      echo
      echo "The CUDA provider did not load; nothing recorded for the GPU:"
      grep -E 'KTU5040|KTU5004|KTU5041' "$work/$name-$pass.log" | head -n 3 | sed 's/^/    /'
      exit 2
    fi
  done
  line=$(python3 - "$work/$name-first/ktu-report.json" "$work/$name-second/ktu-report.json" <<'PY'
import json, sys
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:3])
def rates(r):
    out = {}
    for m in r["models"]:
        for c in m["concepts"]:
            for level in ("fine", "coarse"):
                if c.get(level):
                    out[(c["policy"], c["concept"], level)] = c[level]["rate"]
    return out
a, b = rates(cpu), rates(gpu)
diff = max((abs(a[k] - b.get(k, float("nan"))) for k in a), default=0.0)
same = a.keys() == b.keys() and cpu["verdict"] == gpu["verdict"]
print(f"{gpu['environment']['executionProvider']}|{cpu['verdict']} / {gpu['verdict']}|{diff:.4f}|{'same' if same and diff <= 0.01 else 'DIFFERENT'}")
PY
)
  IFS='|' read -r ran verdicts diff same <<<"$line"
  cpu_wall=$(tail -n 1 "$work/$name-first.time")
  gpu_wall=$(tail -n 1 "$work/$name-second.time")
  echo "| $name | $(basename "$policy") | $cpu_wall | $gpu_wall | $(python3 -c "print(f'{$cpu_wall / $gpu_wall:.2f}x')") | $ran | $verdicts | $diff ($same) |"
  [ "$same" = same ] || status=1
done
echo
echo "Results agree when every concept's fine and coarse rates differ by at most 0.01 and the verdicts match (float32 kernels"
echo "differ between providers; a rate moves only when an exemplar sits on a decision boundary)."
exit $status
