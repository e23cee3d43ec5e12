#!/usr/bin/env bash
# make figures: every experiment of experiments/*/ (one per figure or table of the paper) run into
# OUT_ROOT/<name>/, then every output checked (tools/check_figures.py). Prints a table of what ran
# and how long it took; OUT_ROOT/index.json says the same. Exit status non-zero if anything failed.
# Usage: tools/figures.sh [--quick] [--only a,b] OUT_ROOT
#   --quick   QUICK=1: reduced sizes, for CI (under 2 minutes in all)
#   env: DSTACK (binary, default build/app/dstack), BACKEND=sim|gpu, PYTHON
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0 only=""
while [ $# -gt 1 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    *) echo "figures: unknown option $1 (use --quick, --only a,b)" >&2; exit 2 ;;
  esac
  shift
done
out_root=${1:?"usage: tools/figures.sh [--quick] [--only a,b] OUT_ROOT"}
[ "$1" = "--quick" ] && { echo "figures: name the output folder after --quick" >&2; exit 2; }
export QUICK=$quick DSTACK=${DSTACK:-$PWD/build/app/dstack}
mkdir -p "$out_root"

names=() status=() secs=() failed=0
write_index() {
  {
    echo "{\"quick\": $([ "$quick" = 1 ] && echo true || echo false), \"experiments\": {"
    for i in "${!names[@]}"; do
      sep=$([ "$i" -lt $((${#names[@]} - 1)) ] && echo , || echo)
      echo "  \"${names[$i]}\": {\"status\": \"${status[$i]}\", \"seconds\": ${secs[$i]}}$sep"
    done
    echo "}}"
  } >"$out_root/index.json.partial" && mv "$out_root/index.json.partial" "$out_root/index.json"
}
# Ctrl-C or SIGTERM: stop the running experiment and everything it started, mark its folder
# INCOMPLETE, write index.json with what finished, and say so.
current="" child=""
# Stopped top-down first, so that no script starts another run while its children are killed.
kill_tree() {
  local c
  kill -STOP "$1" 2>/dev/null || return 0
  for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
  kill -TERM "$1" 2>/dev/null || true
  kill -CONT "$1" 2>/dev/null || true
}
on_interrupt() {
  trap - INT TERM
  [ -n "$child" ] && kill_tree "$child"
  wait 2>/dev/null || true
  local finished="${names[*]:-none}"
  if [ -n "$current" ]; then
    echo "interrupted after $((SECONDS - t0)) s; rerun: tools/figures.sh --only $current $out_root" >"$out_root/$current/INCOMPLETE"
    names+=("$current"); status+=(interrupted); secs+=($((SECONDS - t0)))
  fi
  write_index
  echo
  echo "figures: interrupted${current:+ during $current (its folder is marked INCOMPLETE)}; finished: $finished" >&2
  exit 130
}
trap on_interrupt INT TERM
for run_sh in experiments/*/run.sh; do
  name=$(basename "$(dirname "$run_sh")")
  if [ -n "$only" ] && ! [[ ",$only," == *",$name,"* ]]; then continue; fi
  t0=$SECONDS
  printf '== %-22s ' "$name"
  rm -rf "${out_root:?}/$name"; mkdir -p "$out_root/$name"
  current=$name
  # In the background and waited for, so that an interrupt reaches the trap at once.
  bash "$run_sh" "$out_root/$name" >"$out_root/$name/log.txt" 2>&1 &
  child=$!
  if wait "$child"; then st=ok; else st=FAILED; failed=1; fi
  current="" child=""
  echo "$st ($((SECONDS - t0)) s)"
  [ "$st" = ok ] || tail -n 15 "$out_root/$name/log.txt" | sed 's/^/   | /'
  names+=("$name"); status+=("$st"); secs+=($((SECONDS - t0)))
done
if [ ${#names[@]} -eq 0 ]; then echo "figures: no experiment matched" >&2; exit 2; fi

write_index
if [ "$failed" = 0 ]; then
  only_args=()
  [ -n "$only" ] && only_args=(--only "$only")
  "${PYTHON:-/usr/bin/python3}" tools/check_figures.py "$out_root" "${only_args[@]}" || failed=1
fi
total=0; for s in "${secs[@]}"; do total=$((total + s)); done
echo "figures: ${#names[@]} experiments in ${total} s -> $out_root/ ($([ "$failed" = 0 ] && echo all ok || echo FAILED))"
exit $failed
