#!/usr/bin/env bash
# Password logins and refresh grants a second, on loopback, with the bench crate's
# flow_load (wrk cannot do either: a refresh token is single use, a login needs the
# page's hidden fields and CSRF cookie). Starts a release build of the real server on
# a fresh data dir, then runs round robin, RUNS times each:
#   refresh          refresh grants of tokens granted orders:read (one signature each)
#   refresh-openid   the same granted "openid orders:read" (access + ID token signed)
#   login            login page + POST of the right password (one Argon2id verify)
# and prints each run, the medians, and the CPU the server and the load generator used
# (they share the machine's cores). Any error answer fails the run.
#
#   bench/run-flows.sh                       # 3 runs of 10 s; 64 refresh, 8 login workers
#   RUNS=5 DURATION=20 REFRESH_WORKERS=128 LOGIN_WORKERS=16 bench/run-flows.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10} # seconds per run
REFRESH_WORKERS=${REFRESH_WORKERS:-64}
LOGIN_WORKERS=${LOGIN_WORKERS:-8}
PORT=${PORT:-4483}

cargo build --release -q -p gatehouse-cli
cargo build --release -q -p gatehouse-bench --bin flow_load
bin=${CARGO_TARGET_DIR:-target}/release/gatehouse
load=${CARGO_TARGET_DIR:-target}/release/flow_load
work=$(mktemp -d)
server=''
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

GATEHOUSE_MASTER_KEY=$(printf '42%.0s' {1..32}) GATEHOUSE_LOG__LEVEL=warn \
  "$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$work/data" >"$work/stdout" 2>"$work/stderr" &
server=$!
export GATEHOUSE_URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$GATEHOUSE_URL/readyz" >/dev/null && break; sleep 0.1; done
GATEHOUSE_ADMIN_KEY=$(sed -n 's/^GATEHOUSE_ADMIN_KEY=//p' "$work/stdout")
[ -n "$GATEHOUSE_ADMIN_KEY" ] || { echo "gatehouse did not start:" >&2; cat "$work/stderr" >&2; exit 1; }
export GATEHOUSE_ADMIN_KEY

field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run() { # name -> flow_load's line
  case $1 in
    refresh) "$load" refresh --workers "$REFRESH_WORKERS" --seconds "$DURATION" --scope orders:read --server-pid "$server" ;;
    refresh-openid) "$load" refresh --workers "$REFRESH_WORKERS" --seconds "$DURATION" --scope 'openid orders:read' --server-pid "$server" ;;
    login) "$load" login --workers "$LOGIN_WORKERS" --seconds "$DURATION" --server-pid "$server" ;;
  esac
}

cores=$(nproc)
echo "machine: $cores cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -m), $(date -u +%Y-%m-%d)"
echo "flow_load: $REFRESH_WORKERS refresh workers, $LOGIN_WORKERS login workers, ${DURATION}s per run, $RUNS runs each, round robin"

names=(refresh refresh-openid login)
declare -A rates p50s p99s server_cpu
for run in $(seq "$RUNS"); do
  for name in "${names[@]}"; do
    line=$(run "$name")
    rate=$(field per_s "$line") p50=$(field p50_ms "$line") p99=$(field p99_ms "$line")
    extra=$(field id_tokens "$line")
    if [ "$name" = login ]; then
      extra="page p50 $(field page_p50_ms "$line") ms"
    else
      extra="$extra of $(field ok "$line") with an ID token"
    fi
    server_cores=$(field server_cores "$line")
    printf 'run %s %-16s %8s /s, p50 %7s ms, p99 %7s ms; %s; cpu: server %s, load %s cores\n' \
      "$run" "$name:" "$rate" "$p50" "$p99" "$extra" "$server_cores" "$(field load_cores "$line")"
    rates[$name]+=" $rate" p50s[$name]+=" $p50" p99s[$name]+=" $p99" server_cpu[$name]+=" $server_cores"
  done
done

for name in "${names[@]}"; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  rate=$(median ${rates[$name]}) p50=$(median ${p50s[$name]}) p99=$(median ${p99s[$name]})
  used=$(median ${server_cpu[$name]})
  awk -v n="$name" -v r="$rate" -v a="$p50" -v b="$p99" -v c="$cores" -v u="$used" \
    'BEGIN { printf "median %-16s %8s /s (%.1f per vCPU; server used %s cores: %.1f per core used), p50 %s ms, p99 %s ms\n",
      n ":", r, r / c, u, r / u, a, b }'
done
echo "server rss after the runs: $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server/status")"
