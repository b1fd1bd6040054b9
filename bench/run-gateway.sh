#!/usr/bin/env bash
# The gateway side by side, on loopback, with wrk, one run, same upstream, same
# concurrency:
#   direct          the upstream itself (nginx answering 200 "ok"): the ceiling
#   nginx           nginx proxy_pass to it, no authentication
#   haproxy-jwt     HAProxy verifying an ES256 JWT with jwt_verify (+ exp), then forwarding
#   gatehouse-key   Gatehouse's gateway checking an API key (scope required, audited)
#   gatehouse-jwt   Gatehouse's gateway checking the same ES256 JWT as HAProxy
#   floor           the gateway's own listener and upstream client with no gateway work
#                   (bench/src/bin/floor.rs): what the HTTP stack alone costs
# The JWT is a Gatehouse access token; HAProxy gets Gatehouse's public key as PEM.
# Each target is loaded RUNS times, round robin; medians, and each as a ratio to nginx.
# CPU a request is the proxy process's own (user + system time over the run / requests):
# unlike requests/s it hardly depends on what else the machine is doing.
# nginx, HAProxy and wrk come from Debian's packages (apt-get install nginx haproxy wrk).
#
#   bench/run-gateway.sh                          # 3 runs of 10 s, 64 connections
#   RUNS=5 DURATION=20s CONNS=128 bench/run-gateway.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2s}
TIMEOUT=${TIMEOUT:-10s}
BASE=${BASE:-4490} # ports BASE+1 … BASE+6
UP=$((BASE + 1)) NGX=$((BASE + 2)) HAP=$((BASE + 3)) GW=$((BASE + 4)) API=$((BASE + 5)) FLR=$((BASE + 6))
PATH="$PATH:/usr/sbin"
. bench/wrk.sh
needs wrk nginx haproxy curl
build_gatehouse
build_floor

scratch

# The upstream, and nginx in front of it.
start_upstream "$UP"
upstream=${pids[-1]}
nginx_conf proxy "upstream up { server 127.0.0.1:$UP; keepalive 128; }
  server { listen 127.0.0.1:$NGX; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
proxy=${pids[-1]}
wait_port "$NGX"

start_gateway "$GW" "$API" "$UP"
start_floor proxy "127.0.0.1:$FLR" "http://127.0.0.1:$UP"
floor_pid=${pids[-1]}

# Gatehouse's ES256 public key as PEM for HAProxy: SubjectPublicKeyInfo = fixed P-256
# prefix + 04 || x || y.
b64url() { local s=${1//-/+}; s=${s//_//}; while (( ${#s} % 4 )); do s+='='; done; printf '%s' "$s" | base64 -d; }
jwks=$(curl -sf "$api/.well-known/jwks.json")
x=$(sed -n 's/.*"x":"\([^"]*\)".*/\1/p' <<<"$jwks") y=$(sed -n 's/.*"y":"\([^"]*\)".*/\1/p' <<<"$jwks")
{ printf '3059301306072a8648ce3d020106082a8648ce3d030107034200' | xxd -r -p; printf '\x04'; b64url "$x"; b64url "$y"; } >"$work/pub.der"
{ echo '-----BEGIN PUBLIC KEY-----'; base64 -w64 "$work/pub.der"; echo '-----END PUBLIC KEY-----'; } >"$work/pub.pem"

cat >"$work/haproxy.cfg" <<CFG
global
  log stderr format raw local0 err
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:$HAP
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str ES256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$work/pub.pem") -m int 1 }
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
  http-request set-var(txn.now) date()
  http-request deny deny_status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }
  default_backend up
backend up
  http-reuse always
  server up 127.0.0.1:$UP
CFG
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
hap=$!
pids+=("$hap")
wait_port "$HAP"

# Each target must answer 200 with its credential and refuse without it.
for target in "gatehouse-key http://127.0.0.1:$GW/ $key" "gatehouse-jwt http://127.0.0.1:$GW/ $token" \
  "haproxy-jwt http://127.0.0.1:$HAP/ $token"; do
  read -r name url cred <<<"$target"
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $cred" "$url")" = 200 ] ||
    { echo "$name: refused its own credential" >&2; cat "$work/haproxy.log" "$work/gh.stderr" >&2; exit 1; }
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 401 ] || { echo "$name: let a request without credential through" >&2; exit 1; }
done

lua() { # file credential
  if [ -n "$2" ]; then echo "wrk.headers[\"Authorization\"] = \"Bearer $2\"" >"$1"; else : >"$1"; fi
}
lua "$work/none.lua" ""
lua "$work/key.lua" "$key"
lua "$work/jwt.lua" "$token"
# Each target with the process whose CPU a request is charged to (a proxy's own, not
# the upstream's).
targets=(
  "direct http://127.0.0.1:$UP/ $work/none.lua $upstream"
  "nginx http://127.0.0.1:$NGX/ $work/none.lua $proxy"
  "haproxy-jwt http://127.0.0.1:$HAP/ $work/jwt.lua $hap"
  "gatehouse-key http://127.0.0.1:$GW/ $work/key.lua $gh"
  "gatehouse-jwt http://127.0.0.1:$GW/ $work/jwt.lua $gh"
  "floor http://127.0.0.1:$FLR/ $work/none.lua $floor_pid"
)

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)"
echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), HAProxy $(haproxy -v | awk 'NR==1 {print $3}'), wrk: $THREADS thread(s), $CONNS connections, $DURATION per run, $RUNS runs each, round robin"
if [ "$WARMUP" != 0 ]; then
  for t in "${targets[@]}"; do read -r name url script _ <<<"$t"; load "$name" "$url" "$script" "$WARMUP" >/dev/null; done
  echo "warm-up: $WARMUP each, not counted"
fi

declare -A rates p50s p99s cpus
for run in $(seq "$RUNS"); do
  for t in "${targets[@]}"; do
    read -r name url script pid <<<"$t"
    before=$(cpu_ticks "$pid")
    read -r rps p50 p99 timeouts < <(load "$name" "$url" "$script" "$DURATION")
    cpu=$(cpu_per_request $(($(cpu_ticks "$pid") - before)) "$rps" "$DURATION")
    show "$name" "$run" "$rps" "$p50" "$p99" "$timeouts" "$cpu"
    rates[$name]+="$rps " p50s[$name]+="$p50 " p99s[$name]+="$p99 " cpus[$name]+="$cpu "
  done
done

# shellcheck disable=SC2086
nginx_rps=$(median ${rates[nginx]})
direct_p99=$(median ${p99s[direct]})
echo "medians (ratio to nginx without auth; p99 added over direct; the process's CPU a request):"
for t in "${targets[@]}"; do
  read -r name _ _ _ <<<"$t"
  # shellcheck disable=SC2086
  rps=$(median ${rates[$name]}) p50=$(median ${p50s[$name]}) p99=$(median ${p99s[$name]})
  # shellcheck disable=SC2086
  cpu=$(median ${cpus[$name]})
  awk -v n="$name" -v r="$rps" -v a="$p50" -v b="$p99" -v x="$nginx_rps" -v d="$direct_p99" -v c="$cpu" \
    'BEGIN { printf "  %-14s %10.0f req/s  %5.2fx  p50 %6.3f ms  p99 %6.3f ms  (%+.3f ms)  cpu %5.1f us\n", n, r, r / x, a, b, b - d, c }'
done
# shellcheck disable=SC2086
awk -v g="$(median ${rates[gatehouse-jwt]})" -v h="$(median ${rates[haproxy-jwt]})" \
  'BEGIN { printf "gatehouse-jwt / haproxy-jwt: %.2fx\n", g / h }'
# shellcheck disable=SC2086
awk -v f="$(median ${rates[floor]})" -v k="$(median ${rates[gatehouse-key]})" -v j="$(median ${rates[gatehouse-jwt]})" \
  'BEGIN { printf "gatehouse against the bare stack (floor): key %.2fx, jwt %.2fx\n", k / f, j / f }'
echo "rss after the runs: gatehouse $(rss "$gh")"
