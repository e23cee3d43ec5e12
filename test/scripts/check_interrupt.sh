#!/usr/bin/env bash
# check_interrupt.sh DSTACK CONFIG OUT: SIGTERM to `dstack run` midway must exit 143, say what had
# finished, and leave only complete files under their names (no comparison.csv: it is written last).
set -uo pipefail
dstack=$1 config=$2 out=$3
rm -rf "$out"
"$dstack" run "$config" --policies dstack,ideal --duration 30 -o "$out" >/dev/null 2>"$out.err" &
pid=$!
# Until dstack's folder is complete (its trace is written last of its files), then ideal runs for long.
for _ in $(seq 1 600); do [ -f "$out/dstack/trace.json" ] && break; sleep 0.1; done
sleep 0.5
kill -TERM "$pid"
wait "$pid"
rc=$?
fail() { echo "check_interrupt: $*" >&2; cat "$out.err" >&2; exit 1; }
[ "$rc" = 143 ] || fail "exit status $rc, expected 143 (128 + SIGTERM)"
grep -q "dstack: interrupted: run .* finished dstack (complete outputs); ideal was running" "$out.err" ||
  fail "the message does not say what finished"
[ -f "$out/comparison.csv" ] && fail "comparison.csv exists after an interrupt"
for f in metrics.csv metrics.json requests.csv runs.csv trace.json; do
  [ -s "$out/dstack/$f" ] || fail "dstack/$f is missing though dstack had finished"
done
python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$out/dstack/metrics.json" || fail "dstack/metrics.json is not whole"
echo "check_interrupt: exit 143, the message names what finished, only complete files under their names"
