#!/usr/bin/env bash
# Trace-page benchmark (issue 4): GET /t/{code} with wrk at 32 connections (every request is a
# counted scan), p50/p99 latency, then checks that the stored scan count equals the number of
# requests wrk completed (no lost increments).
#
#   bench/trace.sh                       # SQLite and PostgreSQL, 20 s each
#   DATABASES=postgres DURATION=10s bench/trace.sh
#   BIN_DIR=/tmp/old-target/release NO_BUILD=1 bench/trace.sh   # another commit's binaries
set -euo pipefail
# /metrics on the main listener answers only this bearer token (ONESTOP_METRICS_TOKEN).
METRICS_TOKEN="${METRICS_TOKEN:-bench-metrics-token-not-a-secret}"
cd "$(dirname "$0")/.."

DATABASES=${DATABASES:-"sqlite postgres"}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18432}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }

# One build for both binaries (a second feature set would compile the crate twice).
BIN_DIR=${BIN_DIR:-target/release}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --features bench --bin onestop --bin onestop-bench-seed
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cat > "$work/count.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non_200 = 0 end
function response(status, headers, body) if status ~= 200 then non_200 = non_200 + 1 end end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non_200") end
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d non_200=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, bad + summary.errors.status))
end
LUA

printf '%-9s %8s %8s %8s %9s %12s %9s %8s\n' database rps p50_ms p99_ms requests stored_scans rss_mib cpu_ms
for db in $DATABASES; do
  if [ "$db" = sqlite ]; then
    url="sqlite://$work/trace.db?mode=rwc"
  else
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS onestop_bench_trace WITH (FORCE)" -c "CREATE DATABASE onestop_bench_trace" >/dev/null
    url="$PG/onestop_bench_trace"
  fi
  export ONESTOP_DATABASE_URL="$url" ONESTOP_DATA_DIR="$work/data" ONESTOP_LOG=warn \
    ONESTOP_BIND="127.0.0.1:$PORT" ONESTOP_METRICS_BIND=off ONESTOP_METRICS_TOKEN="$METRICS_TOKEN" ONESTOP_SCANS_PER_MINUTE=100000000
  code=$("$BIN_DIR/onestop-bench-seed" trace | sed -n 's/^trace_code=//p')
  "$BIN_DIR/onestop" serve >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  cpu0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  result=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -H 'Accept: application/json' -s "$work/count.lua" "http://127.0.0.1:$PORT/t/$code" | grep '^RESULT')
  eval "$(echo "$result" | sed 's/^RESULT //')"
  cpu=$(awk -v a="$cpu0" -v b="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")" -v t="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.2f", (b - a) * 1000 / t / n }')
  rss=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
  stored=$(curl -sf -X POST "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' \
    -d "{\"query\":\"{ trace(code: \\\"$code\\\") { scanCount } }\"}" | sed -E 's/.*"scanCount":([0-9]+).*/\1/')
  printf '%-9s %8s %8s %8s %9s %12s %9s %8s\n' "$db" "$rps" "$p50_ms" "$p99_ms" "$requests" "$stored" "$rss" "$cpu"
  [ "$non_200" = 0 ] || echo "  $non_200 responses were not 200"
  [ "$stored" -ge "$requests" ] || echo "  LOST INCREMENTS: $requests requests, $stored counted"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  [ "$db" = postgres ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS onestop_bench_trace WITH (FORCE)" >/dev/null
done
