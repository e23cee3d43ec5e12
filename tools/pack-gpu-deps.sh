#!/usr/bin/env bash
# Packs what the GPU build needs but a bare GPU machine lacks (Debian's -dev packages) into one
# ignored folder that travels with the work tree: Debian packages fetched with `apt-get download`
# and unpacked with `dpkg -x`. GoogleTest goes as source (Debian's googletest package) so it is
# compiled by the GPU machine's own compiler. Then build there with
#   cmake -DDSTACK_DEPS_PREFIX=.gpu-deps ...   (make gpu-check does this when the folder exists)
#
# Usage: tools/pack-gpu-deps.sh [OUT_DIR]   (default .gpu-deps; runs on Debian 12, no root needed
# when the package lists are already fetched)
set -euo pipefail
out=${1:-.gpu-deps}
debs="${out}.debs"
packages=(googletest libcli11-dev libfmt-dev libfmt9 nlohmann-json3-dev libbenchmark-dev libbenchmark1debian
          libonnx-dev libonnx1 libonnxifi libprotobuf-dev libprotobuf32 libprotobuf-lite32 zlib1g-dev
          libyaml-cpp-dev libyaml-cpp0.7)

rm -rf "$out" "$debs"
mkdir -p "$out" "$debs"
( cd "$debs" && apt-get download "${packages[@]}" >/dev/null 2>"download.log" || { cat download.log >&2; false; } ) || {
  echo "pack-gpu-deps: apt-get download failed; run 'apt-get update' (as root) first" >&2
  exit 1
}
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$out"; done
rm -rf "$debs" "$out/usr/share/doc" "$out/usr/share/man"
# The build links the shared libraries; the static copies would only make the folder heavier.
rm -f "$out"/usr/lib/x86_64-linux-gnu/libprotobuf.a "$out"/usr/lib/x86_64-linux-gnu/libprotobuf-lite.a \
      "$out"/usr/lib/x86_64-linux-gnu/libz.a

{
  echo "packed by tools/pack-gpu-deps.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(. /etc/os-release; echo "$PRETTY_NAME")"
  for p in "${packages[@]}"; do dpkg-query -W -f '${Package} ${Version}\n' "$p" 2>/dev/null || echo "$p (version not installed here)"; done
} > "$out/PACKED.txt"
echo "pack-gpu-deps: $(du -sh "$out" | cut -f1) in $out (must stay under 64 MiB to travel)"
