#!/usr/bin/env bash
# TLS and mTLS on Gatehouse's gateway listener, on loopback, against a throwaway CA
# (ECDSA P-256, made here with openssl): handshakes a second and gateway requests a
# second over keep-alive, each with and without a client certificate.
#
#   handshakes (openssl s_time: one connection at a time, STIME_PROCS processes):
#     full-mtls        TLS 1.3, new session every time, client certificate presented
#     resumed-mtls     TLS 1.3, the first connection's session resumed, certificate
#     full-tls         TLS 1.3, new session every time, no client certificate
#     resumed-tls      TLS 1.3, resumed, no client certificate
#     tls12-full-mtls  TLS 1.2, new session, client certificate, nothing sent
#     tls12-resumed-mtls  TLS 1.2, session-ID resumption, client certificate
#   The TLS 1.3 ones send one "GET / HTTP/1.0" (s_time -www; the gateway answers 404
#   without going upstream) because a TLS 1.3 session ticket arrives after the
#   handshake: s_time -reuse without -www closes before reading it, has nothing to
#   resume, and makes every connection a full handshake (a short probe shows it).
#   gateway requests over keep-alive (same nginx upstream answering 200 "ok"):
#     get-mtls       flow_load get, client certificate, route auth = ["mtls"]
#     get-key        flow_load get, no client certificate, X-API-Key, auth = ["api_key"]
#     wrk-key        wrk, the same as get-key (wrk cannot present a certificate)
#
# Gatehouse runs with [tls] client_auth = "optional", so one listener serves both.
# Each measurement runs RUNS times, round robin; medians. s_time's rate is its
# connection count over the wall-clock time of the run (its own "connections/user sec"
# divides by its CPU time, not by time). The CPU each side used is printed, in cores.
# Needs openssl, nginx, curl and wrk (Debian packages).
#
#   bench/run-mtls.sh                           # 3 runs of 10 s; 64 connections; 1 s_time
#   RUNS=5 DURATION=20 CONNS=128 STIME_PROCS=4 bench/run-mtls.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10} # seconds per run
CONNS=${CONNS:-64}       # keep-alive connections (wrk) and workers (flow_load)
THREADS=${THREADS:-1}
STIME_PROCS=${STIME_PROCS:-1} # s_time processes side by side
TIMEOUT=${TIMEOUT:-10s}
WARMUP=${WARMUP:-2} # seconds, each measurement once, not counted; 0 for none
BASE=${BASE:-4510}  # ports BASE+1 … BASE+3
UP=$((BASE + 1)) GW=$((BASE + 2)) API=$((BASE + 3))
PATH="$PATH:/usr/sbin"
. bench/wrk.sh
needs openssl nginx curl wrk
build_gatehouse
cargo build --release -q -p gatehouse-bench --bin flow_load
flow_load=${CARGO_TARGET_DIR:-target}/release/flow_load

scratch

# The throwaway CA, the server's certificate for 127.0.0.1, a client certificate
# (clientAuth, identity from its SAN URI).
pki=$work/pki
mkdir "$pki"
ec() { echo -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes; }
# shellcheck disable=SC2046
openssl req -x509 $(ec) -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 -subj "/CN=Gatehouse bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
leaf() { # name subject extensions
  # shellcheck disable=SC2046
  openssl req -new $(ec) -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "$2" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n%b' "$3" >"$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
    -extfile "$pki/$1.ext" -out "$pki/$1.pem" 2>/dev/null
}
leaf server /CN=gatehouse 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n'
leaf client /CN=bench-client 'extendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://bench/client\n'
cat "$pki/client.pem" "$pki/client.key" >"$pki/client-identity.pem"

# The upstream, as in run-gateway.sh.
start_upstream "$UP"

# Gatehouse: TLS on both listeners, client certificates optional; two routes to the
# upstream, one taking only a client certificate, one only an API key.
cat >"$work/gatehouse.toml" <<TOML
version = 1
[server]
listen = "127.0.0.1:$API"
[log]
level = "warn"
[tls]
cert = "$pki/server.pem"
key = "$pki/server.key"
client_ca = "$pki/ca.pem"
client_auth = "optional"
[gateway]
listen = "127.0.0.1:$GW"
[[gateway.routes]]
name = "mtls"
path_prefix = "/mtls"
upstream = "http://127.0.0.1:$UP"
auth = ["mtls"]
[[gateway.routes]]
name = "key"
path_prefix = "/key"
upstream = "http://127.0.0.1:$UP"
auth = ["api_key"]
TOML
GATEHOUSE_MASTER_KEY=$(printf '42%.0s' {1..32}) \
  "$bin" serve --config "$work/gatehouse.toml" --data-dir "$work/data" >"$work/gh.stdout" 2>"$work/gh.stderr" &
gh=$!
pids+=("$gh")
api="https://127.0.0.1:$API"
tls=(--cacert "$pki/ca.pem")
for _ in $(seq 100); do curl -sf "${tls[@]}" "$api/readyz" >/dev/null && break; sleep 0.1; done
admin=$(sed -n 's/^GATEHOUSE_ADMIN_KEY=//p' "$work/gh.stdout")
[ -n "$admin" ] || { echo "gatehouse did not start:" >&2; cat "$work/gh.stderr" >&2; exit 1; }
key=$(curl -sf "${tls[@]}" -X POST "$api/admin/v1/keys" -H "Authorization: Bearer $admin" \
  -H 'content-type: application/json' -d '{"name":"bench","scopes":["bench:read"]}' |
  sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[ -n "$key" ] || { echo "could not make an API key" >&2; cat "$work/gh.stderr" >&2; exit 1; }

# Each route must answer 200 with its credential and 401 without it.
gw="https://127.0.0.1:$GW"
code() { curl -s -o /dev/null -w '%{http_code}' "${tls[@]}" "$@"; }
cert=(--cert "$pki/client.pem" --key "$pki/client.key")
for check in "200 $gw/mtls/ ${cert[*]}" "401 $gw/mtls/" "200 $gw/key/ -H X-API-Key:$key" "401 $gw/key/" \
  "401 $gw/key/ ${cert[*]}"; do
  read -r want url args <<<"$check"
  # shellcheck disable=SC2086 # args are flags
  got=$(code $args "$url")
  [ "$got" = "$want" ] || { echo "$url with '$args': $got, not $want" >&2; cat "$work/gh.stderr" >&2; exit 1; }
done

# A resumed session must still carry the client's identity: resume with openssl
# s_client and ask the mtls route again.
sclient() { # extra args…; sends one GET /mtls/, prints the session line and the status line
  printf 'GET /mtls/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
    openssl s_client -connect "127.0.0.1:$GW" -CAfile "$pki/ca.pem" -cert "$pki/client.pem" \
      -key "$pki/client.key" -ign_eof "$@" 2>/dev/null | grep -E '^(New|Reused),|^HTTP/1.1' | tr '\n' ' '
}
first=$(sclient -sess_out "$work/session.pem")
again=$(sclient -sess_in "$work/session.pem")
echo "session check: first: $first; again: $again"
case $again in
  Reused,*"HTTP/1.1 200"*) ;;
  *) echo "WARNING: the session was not resumed with its client certificate (see above)" >&2 ;;
esac

cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user + system ticks (USER_HZ 100)
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }

# One s_time run (STIME_PROCS processes): prints "rate new resumed server_cores load_cores".
handshakes() { # full|resumed mtls|tls 1.3|1.2 seconds [no-www]
  local args=(-connect "127.0.0.1:$GW" -CAfile "$pki/ca.pem" -time "$4") before started elapsed i running=()
  if [ "$1" = resumed ]; then args+=(-reuse); else args+=(-new); fi
  [ "$2" = mtls ] && args+=(-cert "$pki/client.pem" -key "$pki/client.key")
  if [ "$3" = 1.2 ]; then args+=(-tls1_2); else args+=(-tls1_3); fi
  [ "$3" = 1.2 ] || [ "${5:-}" = no-www ] || args+=(-www /)
  before=$(cpu "$gh") started=$(date +%s.%N)
  for i in $(seq "$STIME_PROCS"); do
    (TIMEFORMAT='%U %S'; { time openssl s_time "${args[@]}" >"$work/stime.$i" 2>&1; } 2>"$work/stime.$i.cpu") &
    running+=($!)
  done
  wait "${running[@]}"
  elapsed=$(echo "$(date +%s.%N) - $started" | bc -l)
  local n=0 fresh=0 resumed=0 load=0 c
  for i in $(seq "$STIME_PROCS"); do
    c=$(sed -n 's/^\([0-9]*\) connections in .* real seconds.*/\1/p' "$work/stime.$i")
    [ -n "$c" ] || { echo "s_time $* failed:" >&2; tail -5 "$work/stime.$i" >&2; exit 1; }
    # One character a connection: 'r' resumed, '*' a new TLS 1.2/1.3 session.
    n=$((n + c))
    fresh=$((fresh + $(grep -E '^[*rt3]+$' "$work/stime.$i" | tr -cd '*' | wc -c)))
    resumed=$((resumed + $(grep -E '^[*rt3]+$' "$work/stime.$i" | tr -cd 'r' | wc -c)))
    load=$(awk -v l="$load" '{ print l + $1 + $2 }' "$work/stime.$i.cpu")
  done
  awk -v n="$n" -v e="$elapsed" -v r="$resumed" -v f="$fresh" -v s="$(($(cpu "$gh") - before))" -v l="$load" \
    'BEGIN { printf "%.0f %d %d %.2f %.2f\n", n / e, f, r, s / 100 / e, l / e }'
}

# One keep-alive run: prints "rate p50 p99 server_cores load_cores".
getload() { # mtls|key seconds
  local args line
  if [ "$1" = mtls ]; then
    args=(--url "$gw/mtls/" --identity "$pki/client-identity.pem")
  else
    args=(--url "$gw/key/" --header "X-API-Key: $key")
  fi
  line=$("$flow_load" get "${args[@]}" --ca "$pki/ca.pem" --workers "$CONNS" --seconds "$2" --server-pid "$gh") ||
    { echo "flow_load get $1 failed: $line" >&2; exit 1; }
  echo "$(field per_s "$line") $(field p50_ms "$line") $(field p99_ms "$line") $(field server_cores "$line") $(field load_cores "$line")"
}
echo "wrk.headers[\"X-API-Key\"] = \"$key\"" >"$work/key.lua"
wrkload() { # seconds -> "rate p50 p99 server_cores load_cores"
  local before started elapsed
  before=$(cpu "$gh") started=$(date +%s.%N)
  TIMEFORMAT='%U %S'
  { time load wrk-key "$gw/key/" "$work/key.lua" "${1}s" >"$work/wrk.out" 2>&3; } 3>&2 2>"$work/time"
  elapsed=$(echo "$(date +%s.%N) - $started" | bc -l)
  read -r rps p50 p99 _ <"$work/wrk.out"
  awk -v r="$rps" -v a="$p50" -v b="$p99" -v s="$(($(cpu "$gh") - before))" -v e="$elapsed" \
    -v l="$(awk '{ print $1 + $2 }' "$work/time")" 'BEGIN { printf "%s %s %s %.2f %.2f\n", r, a, b, s / 100 / e, l / e }'
}

measure() { # name seconds
  case $1 in
    full-mtls) handshakes full mtls 1.3 "$2" ;;
    resumed-mtls) handshakes resumed mtls 1.3 "$2" ;;
    full-tls) handshakes full tls 1.3 "$2" ;;
    resumed-tls) handshakes resumed tls 1.3 "$2" ;;
    tls12-full-mtls) handshakes full mtls 1.2 "$2" ;;
    tls12-resumed-mtls) handshakes resumed mtls 1.2 "$2" ;;
    get-mtls) getload mtls "$2" ;;
    get-key) getload key "$2" ;;
    wrk-key) wrkload "$2" ;;
  esac
}

echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -m), $(date -u +%Y-%m-%d)"
echo "$(openssl version | awk '{print $1, $2}') s_time ($STIME_PROCS at a time); flow_load get and wrk ($THREADS thread): $CONNS keep-alive connections; ${DURATION}s per run, $RUNS runs each, round robin"
names=(full-mtls resumed-mtls full-tls resumed-tls tls12-full-mtls tls12-resumed-mtls get-mtls get-key wrk-key)
handshakes resumed mtls 1.3 2 no-www >"$work/result"
read -r rate fresh resumed _ <"$work/result"
echo "probe: s_time -reuse over TLS 1.3 without -www, 2 s: $fresh new sessions, $resumed resumed ($rate/s)"
if [ "$WARMUP" != 0 ]; then
  for name in "${names[@]}"; do measure "$name" "$WARMUP" >/dev/null; done
  echo "warm-up: ${WARMUP}s each, not counted"
fi

declare -A rates p50s p99s scpu lcpu
for run in $(seq "$RUNS"); do
  for name in "${names[@]}"; do
    measure "$name" "$DURATION" >"$work/result"
    read -r rate a b s l <"$work/result"
    case $name in
      *full-* | *resumed-*)
        printf 'run %s %-19s %8s handshakes/s (%s new, %s resumed); cpu: server %s, s_time %s cores\n' \
          "$run" "$name:" "$rate" "$a" "$b" "$s" "$l"
        [ "$name" = "${name%resumed-mtls}" ] || [ "$name" = "${name%resumed-tls}" ] || [ "$b" -gt 0 ] ||
          echo "  ($name: no session was resumed — every connection was a full handshake)"
        ;;
      *)
        printf 'run %s %-19s %8s req/s, p50 %6s ms, p99 %6s ms; cpu: server %s, load %s cores\n' \
          "$run" "$name:" "$rate" "$a" "$b" "$s" "$l"
        p50s[$name]+=" $a" p99s[$name]+=" $b"
        ;;
    esac
    rates[$name]+=" $rate" scpu[$name]+=" $s" lcpu[$name]+=" $l"
  done
done

echo "medians:"
for name in "${names[@]}"; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  rate=$(median ${rates[$name]}) s=$(median ${scpu[$name]}) l=$(median ${lcpu[$name]})
  case $name in
    *full-* | *resumed-*) printf '  %-18s %8s handshakes/s; cpu: server %s, s_time %s cores\n' "$name" "$rate" "$s" "$l" ;;
    # shellcheck disable=SC2086
    *) printf '  %-18s %8s req/s, p50 %6s ms, p99 %6s ms; cpu: server %s, load %s cores\n' \
      "$name" "$rate" "$(median ${p50s[$name]})" "$(median ${p99s[$name]})" "$s" "$l" ;;
  esac
done
echo "rss after the runs: gatehouse $(rss "$gh")"
