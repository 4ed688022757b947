#!/usr/bin/env bash
# Instructions per item on the end-to-end path (webhook -> jq map -> SQLite queue -> HTTP
# receiver), counted by callgrind: a figure that does not depend on the machine's load.
#
#   scripts/instructions.sh [BIN_DIR] [ITEMS] [CLIENTS]
#
# BIN_DIR holds release `runner` and `switchyard-bench` (default target/release; the
# environment variable BENCH names another `switchyard-bench`). The
# bench sends exactly ITEMS items (default 2000; `--items`) in its `e2e` scenario on
# SQLite, one item per request, against the runner started under
# `valgrind --tool=callgrind` (through a wrapper given as `--runner`). The counters are
# zeroed once the runner answers /readyz, so start-up is left out; the bench waits until
# every accepted item is delivered and `done`, then kills the wrapper; the runner is
# stopped with SIGTERM so callgrind writes its totals. Result: instructions (Ir) from
# readiness to exit / accepted items. Profile: callgrind_annotate --inclusive=yes <out>.
set -euo pipefail
BIN_DIR=${1:-target/release}
ITEMS=${2:-2000}
CLIENTS=${3:-8}
BIN_DIR=$(cd "$BIN_DIR" && pwd)
# The bench may come from elsewhere (an older commit's runner measured with today's bench).
BENCH=${BENCH:-$BIN_DIR/switchyard-bench}
WORK=$(mktemp -d /tmp/switchyard-instructions.XXXXXX)
OUT=$WORK/callgrind.out
WRAPPER=$WORK/runner-under-callgrind

cat > "$WRAPPER" <<WRAP
#!/usr/bin/env bash
# Started by the bench as its runner: runs the real runner under callgrind in the
# background (so the bench's SIGKILL of this script leaves it to write its totals).
port=""
prev=""
for arg in "\$@"; do
  if [ "\$prev" = "--listen" ]; then port=\${arg##*:}; fi
  prev=\$arg
done
setsid valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN_DIR/runner" "\$@" &
pid=\$!
echo "\$pid" > "$WORK/valgrind.pid"
for _ in \$(seq 1 1200); do
  if curl -fs "http://127.0.0.1:\$port/readyz" >/dev/null 2>&1; then
    callgrind_control -z "\$pid" >/dev/null
    echo zeroed > "$WORK/zeroed"
    break
  fi
  sleep 0.1
done
wait "\$pid"
WRAP
chmod +x "$WRAPPER"

"$BENCH" --runner "$WRAPPER" --backend sqlite --scenario e2e \
  --items "$ITEMS" --warmup 0 --clients "$CLIENTS" --drain-timeout 1200 \
  2>&1 | tee "$WORK/bench.log"
pid=$(cat "$WORK/valgrind.pid")
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
[ -f "$WORK/zeroed" ] || { echo "the counters were never zeroed" >&2; exit 1; }
accepted=$(grep -o 'accepted [0-9]*' "$WORK/bench.log" | head -1 | grep -o '[0-9]*' || true)
if [ -z "$accepted" ]; then
  accepted=$(awk -F'|' '/SQLite/ {gsub(/ /,"",$4); print $4; exit}' "$WORK/bench.log")
fi
ir=$(grep -E '^(summary|totals):' "$OUT" | head -1 | awk '{print $2}')
echo "callgrind output: $OUT"
echo "accepted items: $accepted"
echo "instructions (Ir) from readiness to exit: $ir"
awk -v ir="$ir" -v n="$accepted" 'BEGIN { if (n > 0) printf "instructions per item: %.0f\n", ir / n }'
