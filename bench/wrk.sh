# Shared by the bench/run-*.sh scripts (sourced): run wrk, refuse error-laden runs,
# and summarise. Needs THREADS, CONNS and TIMEOUT set by the caller.

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

show() { # name run rps p50 p99 timeouts
  printf 'run %s %-24s %10s req/s, p50 %7s ms, p99 %7s ms%s\n' "$2" "$1:" "$3" "$4" "$5" \
    "$([ "$6" = 0 ] || echo ", $6 requests TIMED OUT (> $TIMEOUT, not in the latencies)")"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }
