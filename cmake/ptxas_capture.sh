#!/bin/sh
# Compiler launcher of dstack_kernels_cuda (CMake's CUDA_COMPILER_LAUNCHER):
#   ptxas_capture.sh <nvcc> <arguments...>
# Runs the nvcc command it is given and keeps ptxas -v's resource report (registers, shared memory,
# spills of every kernel, per architecture) in <object>.ptxas.txt next to the object named by -o;
# tools/gen_kernel_resources.cc turns those reports into the kernel resource table. Every other
# stderr line (host and device warnings, errors) is passed through unchanged, and the exit status is
# nvcc's, so a failing compile still fails and -Werror still sees its warnings.
# POSIX sh, grep and mv only: it runs wherever nvcc does.
set -u

obj=""
prev=""
for arg in "$@"; do
  case "$prev" in
    -o | --output-file) obj="$arg" ;;
  esac
  case "$arg" in
    --output-file=*) obj="${arg#--output-file=}" ;;
    -o=*) obj="${arg#-o=}" ;;
  esac
  prev="$arg"
done

# Not an object compile (nothing to attach a report to): run the command untouched.
if [ -z "$obj" ]; then
  exec "$@"
fi

report="$obj.ptxas.txt"
stderr_file="$obj.ptxas-stderr.$$"
report_tmp="$obj.ptxas-tmp.$$"
trap 'rm -f "$stderr_file" "$report_tmp"' EXIT
trap 'exit 1' HUP INT TERM

"$@" 2>"$stderr_file"
status=$?

# ptxas -v writes "ptxas info    : ..." lines, and under each "Function properties for ..." an
# indented "N bytes stack frame, N bytes spill stores, N bytes spill loads" line.
pattern='^ptxas info[[:space:]]*:|^[[:space:]]+[0-9]+ bytes stack frame'
grep -E -v "$pattern" "$stderr_file" >&2
if [ "$status" -eq 0 ]; then
  grep -E "$pattern" "$stderr_file" >"$report_tmp"
  mv -f "$report_tmp" "$report" || status=1
else
  # No object, no report: a stale one must not outlive a failed compile.
  rm -f "$report"
fi
exit "$status"
