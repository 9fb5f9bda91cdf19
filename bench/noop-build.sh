#!/usr/bin/env bash
# What the gate adds to an incremental build that has nothing to do.
#
# Packs KtuGate into a temporary feed, makes a model-release project that references it (the
# FashionGate artifact, a passing policy over 1,500 exemplars), builds it once, then times
# no-op builds alternately with the gate (KtuGateMode=Verify: inputs are listed and the gate
# target is skipped as up to date) and without it (KtuGateMode=Off), and prints the medians.
# Usage: bench/noop-build.sh [ROUNDS]   (default 15)
set -euo pipefail
rounds=${1:-15}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
version="0.1.0-bench.$(date +%s)"
cache=${NUGET_PACKAGES:-$HOME/.nuget/packages}
trap 'rm -rf "$work" "$cache/ktugate/$version"' EXIT

dotnet build "$repo/src/KtuGate.Tasks" -c Release -nologo -v:q >/dev/null
dotnet pack "$repo/src/KtuGate.Tasks" --no-build -c Release -o "$work/feed" -p:Version="$version" -nologo -v:q >/dev/null

project="$work/project"
mkdir -p "$project/artifacts" "$project/policies/exemplars"
cp "$repo/samples/FashionGate/artifacts/"fashion-classifier.* "$project/artifacts/"
for label in sneaker sandal ankle-boot t-shirt bag; do
  cp -r "$repo/samples/FashionGate/policies/exemplars/$label" "$project/policies/exemplars/"
done
cat > "$project/policies/keep.ktu.json" <<'JSON'
{
  "ktuPolicy": 1,
  "id": "keep",
  "concepts": {
    "footwear": {}, "tops": {}, "bags": {},
    "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] },
    "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] },
    "ankle-boot": { "parent": "footwear", "exemplars": ["exemplars/ankle-boot/*.png"] },
    "t-shirt": { "parent": "tops", "exemplars": ["exemplars/t-shirt/*.png"] },
    "bag": { "parent": "bags", "exemplars": ["exemplars/bag/*.png"] }
  },
  "retain": [
    { "concept": "sneaker", "minAccuracy": 0.9 }, { "concept": "sandal", "minAccuracy": 0.9 },
    { "concept": "ankle-boot", "minAccuracy": 0.9 }, { "concept": "t-shirt", "minAccuracy": 0.8 },
    { "concept": "bag", "minAccuracy": 0.9 }
  ]
}
JSON
cat > "$project/nuget.config" <<XML
<configuration><packageSources><add key="bench" value="$work/feed" /></packageSources></configuration>
XML
cat > "$project/Release.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework><KtuExecutionProvider>cpu</KtuExecutionProvider></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="KtuGate" Version="$version" />
    <KtuModel Include="artifacts/fashion-classifier.onnx" />
    <KtuPolicy Include="policies/*.ktu.json" />
  </ItemGroup>
</Project>
XML
echo "namespace Release; public static class Marker { }" > "$project/Marker.cs"

cd "$project"
dotnet build -nologo -v:q >/dev/null
dotnet build -nologo -v:q -p:KtuGateMode=Off >/dev/null

time_build() {
  local start end
  start=$(date +%s%N)
  dotnet build --no-restore -nologo -v:q "$@" >/dev/null
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}

with=(); without=()
for _ in $(seq "$rounds"); do
  with+=("$(time_build)")
  without+=("$(time_build -p:KtuGateMode=Off)")
done
grep -q "Skipping target \"_KtuRunGate\"" <(dotnet build --no-restore -nologo -v:n) || { echo "the gate target was not skipped" >&2; exit 1; }

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mw=$(median "${with[@]}"); mo=$(median "${without[@]}")
echo "# No-op incremental build: with the gate vs without"
echo
echo "Recorded $(date -u +%Y-%m-%d) with \`bench/noop-build.sh $rounds\` on $(nproc) cores, $(dotnet --version) SDK."
echo "Project: FashionGate artifact, one passing policy over 1,500 exemplars, KtuGate from a local package feed."
echo "Each round runs \`dotnet build --no-restore\` once with the gate and once with \`-p:KtuGateMode=Off\`, alternately."
echo
echo "| | median (ms) | all runs (ms) |"
echo "| --- | --- | --- |"
echo "| with the gate (target skipped as up to date) | $mw | ${with[*]} |"
echo "| without the gate (KtuGateMode=Off) | $mo | ${without[*]} |"
echo "| **gate overhead** | **$((mw - mo))** | |"
