# Shared by the bench/run-*.sh scripts (sourced): run wrk, refuse error-laden runs,
# and summarise. Needs THREADS, CONNS and TIMEOUT set by the caller.

needs() { # tool... -> exits unless each is on PATH (all come from Debian's packages)
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install the Debian package that has it)" >&2; exit 1; }
  done
}

# The release build of the server, as $bin.
build_gatehouse() {
  cargo build --release -q -p gatehouse-cli
  bin=${CARGO_TARGET_DIR:-target}/release/gatehouse
}

# The bare stack (bench/src/bin/floor.rs: Gatehouse's HTTP parts doing none of its
# work): build_floor sets $floor; start_floor starts it into $pids and waits for it.
build_floor() {
  cargo build --release -q -p gatehouse-bench --bin floor
  floor=${CARGO_TARGET_DIR:-target}/release/floor
}
start_floor() { # mode listen [upstream]
  "$floor" "$@" >"$work/floor-$1.log" 2>&1 &
  pids+=($!)
  wait_port "${2##*:}"
}

to_ms() { # wrk latency (e.g. 950.00us, 8.95ms, 1.02s) -> ms
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
    else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
    else { print v }
  }'
}

load() { # name url lua duration -> prints "rps p50ms p99ms timeouts"; fails on errors
  local out rps p50 p99 non2xx sock timeouts
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$4" --timeout "$TIMEOUT" --latency -s "$3" "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  # "Socket errors: connect 0, read 0, write 0, timeout 0"
  sock=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8}' <<<"$out")
  timeouts=$(awk '/Socket errors/ {print $10}' <<<"$out")
  if [ "${non2xx:-0}" != 0 ] || [ "${sock:-0}" != 0 ]; then
    echo "$1: ${non2xx:-0} NON-2XX responses, ${sock:-0} connect/read/write errors —" \
      "a benchmark of errors is worthless; wrk said:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${timeouts:-0}"
}

show() { # name run rps p50 p99 timeouts [cpu µs a request]
  printf 'run %s %-24s %10s req/s, p50 %7s ms, p99 %7s ms%s%s\n' "$2" "$1:" "$3" "$4" "$5" \
    "${7:+, cpu $7 us/req}" \
    "$([ "$6" = 0 ] || echo ", $6 requests TIMED OUT (> $TIMEOUT, not in the latencies)")"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# CPU time used so far by PIDs and their children's threads, in clock ticks (utime +
# stime of each process; a process's figure covers all its threads).
cpu_ticks() { # pid... -> ticks
  local pid total=0 stat f
  for pid in "$@" $(for p in "$@"; do pgrep -P "$p"; done); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) } # fields after the command name, which may hold spaces
    read -r -a f <<<"$stat"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# Microseconds of CPU a request, from ticks used over a run at a rate for a duration.
cpu_per_request() { # ticks rps duration(e.g. 10s)
  awk -v t="$1" -v r="$2" -v d="${3%s}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz * 1e6 / (r * d) }'
}

rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }

# A scratch directory ($work) and the processes started into $pids, stopped and
# removed when the script exits.
scratch() {
  work=$(mktemp -d)
  pids=()
  trap cleanup EXIT
}
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }

# An nginx of its own under $work/NAME (worker_processes auto) with SERVER-BLOCK.
nginx_conf() { # name server-block
  mkdir -p "$work/$1"
  cat >"$work/$1/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $work/$1/nginx.pid;
error_log $work/$1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/$1/body; proxy_temp_path $work/$1/proxy;
  fastcgi_temp_path $work/$1/fcgi; uwsgi_temp_path $work/$1/uwsgi; scgi_temp_path $work/$1/scgi;
  keepalive_requests 1000000;
  $2
}
CONF
  nginx -p "$work/$1" -c "$work/$1/nginx.conf" -e "$work/$1/startup.log" &
  pids+=($!)
}

# The upstream every gateway bench forwards to: nginx answering 200 "ok" on PORT.
start_upstream() { # port
  nginx_conf upstream "server { listen 127.0.0.1:$1; location / { return 200 \"ok\\n\"; } }"
  wait_port "$1"
}


# Gatehouse ($bin) with its gateway on GW_PORT, one route to the upstream on UP_PORT
# taking API keys and JWTs with scope bench:read, and its API on API_PORT; any further
# arguments are a command to run it under (valgrind, say). Sets gh (its pid, also in
# pids), api (its API's URL), key (an API key) and token (an access token with that
# scope, an hour long).
start_gateway() { # gw-port api-port up-port [wrapper...]
  local gw=$1 port=$2 up=$3 admin created id secret
  api="http://127.0.0.1:$port"
  shift 3
  cat >"$work/gatehouse.toml" <<TOML
version = 1
[server]
listen = "127.0.0.1:$port"
[log]
level = "warn"
[tokens]
access_ttl = 3600
[gateway]
listen = "127.0.0.1:$gw"
[[gateway.routes]]
name = "bench"
path_prefix = "/"
upstream = "http://127.0.0.1:$up"
auth = ["api_key", "jwt"]
require_scopes = ["bench:read"]
TOML
  GATEHOUSE_MASTER_KEY=$(printf '42%.0s' {1..32}) \
    "$@" "$bin" serve --config "$work/gatehouse.toml" --data-dir "$work/data" >"$work/gh.stdout" 2>"$work/gh.stderr" &
  gh=$!
  pids+=("$gh")
  # Up to 60 s: under valgrind the start-up alone takes several.
  for _ in $(seq 600); do curl -sf "$api/readyz" >/dev/null && break; sleep 0.1; done
  admin=$(sed -n 's/^GATEHOUSE_ADMIN_KEY=//p' "$work/gh.stdout")
  [ -n "$admin" ] || { echo "gatehouse did not start:" >&2; cat "$work/gh.stderr" >&2; exit 1; }
  post() { curl -sf -X POST "$api$1" -H "Authorization: Bearer $admin" -H 'content-type: application/json' -d "$2"; }
  field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
  key=$(post /admin/v1/keys '{"name":"bench","scopes":["bench:read"]}' | field key)
  created=$(post /admin/v1/clients '{"name":"bench","scope":"bench:read","audience":["bench"]}')
  id=$(field client_id <<<"$created") secret=$(field client_secret <<<"$created")
  token=$(curl -sf -u "$id:$secret" -d grant_type=client_credentials "$api/oauth/token" | field access_token)
  [ -n "$key" ] && [ -n "$token" ] || { echo "could not make a key and a token" >&2; exit 1; }
}
