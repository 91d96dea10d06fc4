#!/usr/bin/env bash
# The WebGPU benchmark on a machine with a GPU that reaches no registry, as one prepared script.
#
#   bash bench/webgpu_device.sh prepare   # here (network): Deno gzipped into .devtools/, the
#                                         # Vulkan loader's Debian packages into .gl/
#   bash bench/webgpu_device.sh run       # there, with .devtools and .gl carried: unpacks Deno
#                                         # and the loader, finds the NVIDIA driver, then runs
#                                         # deno task bench:webgpu at seq 100, H 128 and 512,
#                                         # batch 32..2048; the table goes to stdout and $OUT.
#   bash bench/webgpu_device.sh run --seq 5 --hidden 64 --batch 32 --two-threads 64:32
#                                         # the same with these arguments instead (a try-out)
#
# Both folders are ignored by git (.gitignore); nothing here is needed by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
  mkdir -p .devtools .gl
  gzip -c "$(command -v deno)" >.devtools/deno.gz
  lists=/tmp/charlstm-apt-amd64
  mkdir -p "$lists/partial"
  apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${apt_opts[@]}" update -qq
  (cd .gl && apt-get "${apt_opts[@]}" download libvulkan1)
  ls -l .devtools .gl
  echo "prepared: carry .devtools and .gl, command: bash bench/webgpu_device.sh run"
  ;;
run)
  out=${OUT:-/tmp/charlstm-webgpu}
  mkdir -p "$out" /tmp/charlstm-bin
  gzip -dc .devtools/deno.gz >/tmp/charlstm-bin/deno
  chmod +x /tmp/charlstm-bin/deno
  export PATH="/tmp/charlstm-bin:$PATH" NO_COLOR=1
  # The Vulkan loader, unless the machine has one.
  if ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  # The NVIDIA driver's Vulkan manifest, where the container keeps it.
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
    /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
      export VK_DRIVER_FILES="$icd"
      break
    fi
  done
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true
  deno --version | head -1
  shift
  args=(--seq 100 --hidden 128,512 --batch 32,128,512,1024,2048 --reps 3 --two-threads 512:512)
  [ $# -gt 0 ] && args=("$@") # a smaller run, to try the script on a machine without a GPU
  deno task bench:webgpu "${args[@]}" 2>&1 | tee "$out/webgpu_bench.md"
  ;;
*)
  echo "Cannot run: expected 'prepare' (here) or 'run' (on the GPU machine)" >&2
  exit 2
  ;;
esac
