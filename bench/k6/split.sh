#!/bin/sh
# One k6 test as K k6 processes on this machine, each running one execution segment (as k6 does
# across machines and in its Kubernetes operator), then one combined result.
#   bench/k6/split.sh K OUT_DIR SCRIPT [k6 run options …]
#   bench/k6/split.sh 4 out/fanout bench/k6/fanout.js -e SOCKETS=60000 -e SOCKETS_PER_VU=500 -e URL=…
# Writes OUT_DIR/part-<i>.json (each process's summary), part-<i>.log (its output) and
# combined.json; prints the combined result (bench/k6/combine.mjs) and exits with its status.
# Environment: K6 (the k6 binary, default k6), START_IN (ms from now to the shared START_AT,
# default 30000: every process must be through its init and setup() by then), TASKSET_<i>
# (a CPU list to pin process i to, e.g. TASKSET_1=1).
set -eu

if [ $# -lt 3 ]; then
  echo "usage: $0 K OUT_DIR SCRIPT [k6 run options ...]" >&2
  exit 2
fi
K=$1 OUT=$2 SCRIPT=$3
shift 3
K6=${K6:-k6}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
rm -f "$OUT"/part-*.json "$OUT"/part-*.log "$OUT/combined.json" # an earlier run's parts must not count

# 0,1/K,2/K,...,1 and segment i = (i-1)/K:i/K
SEQUENCE=0
i=1
while [ "$i" -le "$K" ]; do
  if [ "$i" -eq "$K" ]; then SEQUENCE="$SEQUENCE,1"; else SEQUENCE="$SEQUENCE,$i/$K"; fi
  i=$((i + 1))
done
at() { if [ "$1" -eq 0 ]; then echo 0; elif [ "$1" -eq "$K" ]; then echo 1; else echo "$1/$K"; fi; }

START_AT=$(( $(date +%s%3N) + ${START_IN:-30000} ))
PIDS=""
stop() { for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done; }
trap 'stop; exit 130' INT TERM

i=1
while [ "$i" -le "$K" ]; do
  eval "cpus=\${TASKSET_$i:-}"
  pin=""
  if [ -n "$cpus" ]; then pin="taskset -c $cpus"; fi
  # --address: each process's REST API on its own free port (the default, 6565, fits one).
  $pin "$K6" run --no-usage-report --address 127.0.0.1:0 \
    --execution-segment "$(at $((i - 1))):$(at "$i")" --execution-segment-sequence "$SEQUENCE" \
    -e START_AT="$START_AT" -e SUMMARY="$OUT/part-$i.json" "$@" "$SCRIPT" >"$OUT/part-$i.log" 2>&1 &
  PIDS="$PIDS $!"
  i=$((i + 1))
done

failed=0
for pid in $PIDS; do wait "$pid" || failed=$((failed + 1)); done
trap - INT TERM
echo "k6 processes: $K, exited non-zero: $failed (thresholds of a part may fail alone; the combined ones below decide)"
i=1
while [ "$i" -le "$K" ]; do
  if [ ! -f "$OUT/part-$i.json" ]; then
    echo "process $i wrote no summary: see $OUT/part-$i.log" >&2
    exit 1
  fi
  i=$((i + 1))
done
exec node "$HERE/combine.mjs" --json "$OUT/combined.json" "$OUT"/part-*.json
