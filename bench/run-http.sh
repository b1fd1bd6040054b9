#!/usr/bin/env bash
# HTTP load test of POST /v1/keys/verify over keep-alive, on loopback, with wrk.
# Starts a release build of the real server on a fresh data dir, creates a verifier key
# and a key to verify, then runs wrk RUNS times and reports each run and the median.
#
#   bench/run-http.sh                 # defaults: 3 runs of 10 s, 64 connections
#   RUNS=5 DURATION=20s CONNS=128 bench/run-http.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-4471}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }

cargo build --release -q -p gatehouse-cli
bin=${CARGO_TARGET_DIR:-target}/release/gatehouse
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

GATEHOUSE_MASTER_KEY=$(printf '42%.0s' {1..32}) GATEHOUSE_LOG__LEVEL=warn \
  "$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$work/data" >"$work/stdout" 2>"$work/stderr" &
server=$!
url="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
admin=$(sed -n 's/^GATEHOUSE_ADMIN_KEY=//p' "$work/stdout")

create() { # name scopes-json -> key
  curl -sf -X POST "$url/admin/v1/keys" -H "Authorization: Bearer $admin" -H 'content-type: application/json' \
    -d "{\"name\":\"$1\",\"scopes\":$2}" | sed -n 's/.*"key":"\([^"]*\)".*/\1/p'
}
verifier=$(create verifier '["gatehouse:verify"]')
target=$(create orders '["orders:read"]')

cat >"$work/verify.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"key":"$target","scopes":["orders:read"]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $verifier"
LUA

# One check that the request is what we think it is.
curl -sf -X POST "$url/v1/keys/verify" -H "Authorization: Bearer $verifier" -H 'content-type: application/json' \
  -d "{\"key\":\"$target\",\"scopes\":[\"orders:read\"]}" | grep -q '"code":"VALID"' || { echo "verify setup failed" >&2; exit 1; }

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)"
echo "wrk: $THREADS thread(s), $CONNS connections, $DURATION per run, $RUNS runs"
rates=(); p99s=()
for run in $(seq "$RUNS"); do
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$work/verify.lua" "$url/v1/keys/verify")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "run $run: ${rps} req/s, p99 ${p99}${non2xx:+, NON-2XX $non2xx}"
  rates+=("$rps"); p99s+=("$p99")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median: $(median "${rates[@]}") req/s"
events=$(curl -sf "$url/metrics" | awk '/^gatehouse_audit_events_written_total/ {print $2}')
echo "audit events written: $events"
rss=$(awk '/VmRSS/ {print $2/1024 " MiB"}' "/proc/$server/status")
echo "server rss after the runs: $rss"
