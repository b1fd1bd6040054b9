#!/usr/bin/env bash
# Instructions a gateway request costs, counted by valgrind's callgrind: Gatehouse runs
# under callgrind with collection off, wrk warms it up, collection is switched on for a
# wrk load of DURATION, and the instructions every thread executed in that window
# (the audit writer's included) are divided by the requests wrk completed (its rate
# times DURATION). On a noisy machine this is the repeatable measure: the same binary
# and load give the same count to well under a percent, whatever else runs. It counts
# user-space work, not time, and nothing of the kernel's; and valgrind hides the CPU's
# SHA extensions, so SHA-256 runs in software under it and weighs far more here than
# natively. Targets: an API key and a JWT (a Gatehouse access token, so answered from
# the verified-token cache) on the same route as bench/run-gateway.sh.
# Needs valgrind, nginx (the upstream) and wrk from Debian's packages.
#
#   bench/run-instructions.sh                 # 10 s a target, 8 connections
#   DURATION=20s CONNS=16 bench/run-instructions.sh
#   KEEP=dir bench/run-instructions.sh        # keep the callgrind files, for callgrind_annotate
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-8}
THREADS=1
TIMEOUT=30s
BASE=${BASE:-4520} # ports BASE+1 … BASE+3
UP=$((BASE + 1)) GW=$((BASE + 2)) API=$((BASE + 3))
PATH="$PATH:/usr/sbin"
. bench/wrk.sh
needs wrk nginx valgrind callgrind_control curl
build_gatehouse

scratch
start_upstream "$UP"
start_gateway "$GW" "$API" "$UP" valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$work/callgrind.%p" --dump-instr=no
lua() { echo "wrk.headers[\"Authorization\"] = \"Bearer $2\"" >"$1"; }
lua "$work/key.lua" "$key"
lua "$work/jwt.lua" "$token"

# Instructions executed while collection is on, summed over the dumps made since
# the last call (callgrind writes one file per dump, with a `totals:` line).
collected() {
  local total
  total=$(awk '/^totals:/ {s += $2} END {printf "%.0f", s}' "$work"/callgrind.*)
  rm -f "$work"/callgrind.*
  echo "$total"
}

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d); valgrind $(valgrind --version | sed 's/valgrind-//')"
echo "wrk: 1 thread, $CONNS connections, $DURATION counted after $WARMUP warm-up a target"
for target in key jwt; do
  load "$target" "http://127.0.0.1:$GW/" "$work/$target.lua" "$WARMUP" >/dev/null
  callgrind_control -z "$gh" >/dev/null 2>&1 # zero what was counted, then count
  callgrind_control -i on "$gh" >/dev/null 2>&1
  read -r rps _ _ _ < <(load "$target" "http://127.0.0.1:$GW/" "$work/$target.lua" "$DURATION")
  callgrind_control -i off "$gh" >/dev/null 2>&1
  callgrind_control -d "$target" "$gh" >/dev/null 2>&1
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work"/callgrind.* "$KEEP/"; fi
  awk -v t="$target" -v i="$(collected)" -v r="$rps" -v d="${DURATION%s}" \
    'BEGIN { n = r * d; printf "gatehouse-%-4s %12.0f instructions a request (%.0f requests, %.0f req/s under valgrind)\n", t, i / n, n, r }'
done
