#!/usr/bin/env bash
# Side-by-side HTTP load test of the client-credentials token endpoint on loopback, with
# wrk: Gatehouse's POST /oauth/token against Node's oidc-provider (bench/oidc-provider,
# pinned in its package-lock.json). Both issue the same token: an ES256-signed JWT access
# token (typ at+jwt) with aud "orders", scope "orders:read", 600 s, for a client that
# authenticates with client_secret_basic. Each server gets a fresh start; the runs
# alternate Gatehouse and oidc-provider RUNS times, then the medians and the ratio
# Gatehouse/oidc-provider are printed. Any non-2xx response or connect/read/write error
# fails it; requests slower than TIMEOUT are counted and reported. A third target, the
# floor (bench/src/bin/floor.rs), answers every request on the API's own listener with
# an ES256 token signed by gatehouse-core, doing none of the rest (no router, client
# authentication, scope or audit): what the HTTP stack and the signature alone cost.
#
#   bench/run-token.sh                  # defaults: 3 runs of 10 s each, 64 connections
#   RUNS=5 DURATION=20s CONNS=128 bench/run-token.sh
#   WARMUP=0 bench/run-token.sh         # skip the unmeasured warm-up (default 2s each)
#   NODE=/path/to/node bench/run-token.sh   # another Node.js for oidc-provider
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2s}
TIMEOUT=${TIMEOUT:-10s}  # wrk's per-request timeout (its default, 2s, drops slow requests)
PORT=${PORT:-4481}       # Gatehouse
OP_PORT=${OP_PORT:-4482} # oidc-provider
FLOOR_PORT=${FLOOR_PORT:-4483}
NODE=${NODE:-node}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
command -v "$NODE" >/dev/null || { echo "node is needed for oidc-provider" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is needed for oidc-provider" >&2; exit 1; }

. bench/wrk.sh
build_gatehouse
build_floor
[ -d bench/oidc-provider/node_modules/oidc-provider ] ||
  (cd bench/oidc-provider && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

scratch
start_floor token "127.0.0.1:$FLOOR_PORT"
floor_url="http://127.0.0.1:$FLOOR_PORT"

# Gatehouse, on a fresh data dir.
GATEHOUSE_MASTER_KEY=$(printf '42%.0s' {1..32}) GATEHOUSE_LOG__LEVEL=warn \
  "$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$work/data" >"$work/gh.stdout" 2>"$work/gh.stderr" &
gh=$!
pids+=("$gh")
gh_url="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$gh_url/readyz" >/dev/null && break; sleep 0.1; done
admin=$(sed -n 's/^GATEHOUSE_ADMIN_KEY=//p' "$work/gh.stdout")
[ -n "$admin" ] || { echo "gatehouse did not start:" >&2; cat "$work/gh.stderr" >&2; exit 1; }

created=$(curl -sf -X POST "$gh_url/admin/v1/clients" -H "Authorization: Bearer $admin" \
  -H 'content-type: application/json' -d '{"name":"bench","scope":"orders:read","audience":["orders"]}')
gh_id=$(sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p' <<<"$created")
gh_secret=$(sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p' <<<"$created")
[ -n "$gh_id" ] && [ -n "$gh_secret" ] || { echo "client creation failed: $created" >&2; exit 1; }

# oidc-provider, production mode, its client secret made here.
op_secret=$(head -c 48 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
NODE_ENV=production PORT=$OP_PORT CLIENT_SECRET=$op_secret \
  "$NODE" bench/oidc-provider/server.mjs >"$work/op.stdout" 2>"$work/op.stderr" &
op=$!
pids+=("$op")
op_url="http://127.0.0.1:$OP_PORT"
for _ in $(seq 100); do grep -q '"ready"' "$work/op.stdout" && break; sleep 0.1; done
grep -q '"ready"' "$work/op.stdout" || { echo "oidc-provider did not start:" >&2; cat "$work/op.stderr" >&2; exit 1; }
op_id=bench

# The request bodies. oidc-provider gets the resource server by default (no `resource`
# parameter needed) but, unlike Gatehouse, puts no scope in the token unless one is
# asked for; asking for it makes both tokens carry the same claims.
gh_body='grant_type=client_credentials'
op_body='grant_type=client_credentials&scope=orders:read'

# One check each that the request is what we think it is; show the token's header and
# claims (jti, iat, exp omitted) so the two can be compared.
claims() { # token -> "header | claims"
  "$NODE" -e '
    const [h, p] = process.argv[1].split(".").slice(0, 2).map((s) => JSON.parse(Buffer.from(s, "base64url")));
    for (const k of ["jti", "iat", "exp", "nbf"]) delete p[k];
    console.log(JSON.stringify({ alg: h.alg, typ: h.typ }), JSON.stringify(p));' "$1"
}
check() { # name url id secret body
  local res token
  res=$(curl -sf -u "$3:$4" -d "$5" "$2") || { echo "$1: token request failed" >&2; curl -s -u "$3:$4" -d "$5" "$2" >&2; exit 1; }
  token=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$res")
  [ -n "$token" ] || { echo "$1: no access_token in $res" >&2; exit 1; }
  echo "$1 token: $(claims "$token")"
}
check gatehouse "$gh_url/oauth/token" "$gh_id" "$gh_secret" "$gh_body"
check oidc-provider "$op_url/token" "$op_id" "$op_secret" "$op_body"
check floor "$floor_url/token" "$gh_id" "$gh_secret" "$gh_body"

lua() { # file id secret body
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = "$4"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$2" "$3" | base64 -w0)"
LUA
}
lua "$work/gh.lua" "$gh_id" "$gh_secret" "$gh_body"
lua "$work/op.lua" "$op_id" "$op_secret" "$op_body"

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)"
echo "oidc-provider $("$NODE" -p 'require("./bench/oidc-provider/node_modules/oidc-provider/package.json").version') on Node.js $("$NODE" --version)"
echo "wrk: $THREADS thread(s), $CONNS connections, $DURATION per run, $RUNS runs each, alternating, timeout $TIMEOUT"


if [ "$WARMUP" != 0 ]; then
  load gatehouse "$gh_url/oauth/token" "$work/gh.lua" "$WARMUP" >/dev/null
  load oidc-provider "$op_url/token" "$work/op.lua" "$WARMUP" >/dev/null
  load floor "$floor_url/token" "$work/gh.lua" "$WARMUP" >/dev/null
  echo "warm-up: $WARMUP each, not counted"
fi

gh_rates=() gh_p99s=() op_rates=() op_p99s=() floor_rates=() floor_p99s=()
for run in $(seq "$RUNS"); do
  read -r rps p50 p99 timeouts < <(load gatehouse "$gh_url/oauth/token" "$work/gh.lua" "$DURATION")
  show gatehouse "$run" "$rps" "$p50" "$p99" "$timeouts"
  gh_rates+=("$rps"); gh_p99s+=("$p99")
  read -r rps p50 p99 timeouts < <(load oidc-provider "$op_url/token" "$work/op.lua" "$DURATION")
  show oidc-provider "$run" "$rps" "$p50" "$p99" "$timeouts"
  op_rates+=("$rps"); op_p99s+=("$p99")
  read -r rps p50 p99 timeouts < <(load floor "$floor_url/token" "$work/gh.lua" "$DURATION")
  show floor "$run" "$rps" "$p50" "$p99" "$timeouts"
  floor_rates+=("$rps"); floor_p99s+=("$p99")
done

gh_rps=$(median "${gh_rates[@]}") gh_p99=$(median "${gh_p99s[@]}")
op_rps=$(median "${op_rates[@]}") op_p99=$(median "${op_p99s[@]}")
floor_rps=$(median "${floor_rates[@]}") floor_p99=$(median "${floor_p99s[@]}")
printf 'median %-14s %10s req/s, p99 %8s ms\n' gatehouse: "$gh_rps" "$gh_p99" oidc-provider: "$op_rps" "$op_p99" \
  floor: "$floor_rps" "$floor_p99"
awk -v a="$gh_rps" -v b="$op_rps" -v c="$gh_p99" -v d="$op_p99" \
  'BEGIN { printf "gatehouse/oidc-provider: %.2fx the requests/s, %.2fx the p99\n", a / b, c / d }'
awk -v f="$floor_rps" -v a="$gh_rps" -v b="$op_rps" \
  'BEGIN { printf "floor/oidc-provider: %.2fx; gatehouse/floor: %.2fx\n", f / b, a / f }'
echo "rss after the runs: gatehouse $(rss "$gh"), oidc-provider $(rss "$op")"
