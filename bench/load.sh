#!/usr/bin/env bash
# Load scenario (issue 6): on PostgreSQL, 44 clients mix review-queue reads (24), draft
# updates (10) and decisions (10: claim + request correction) for SECONDS; then 20 more
# clients hammer `login` for another SECONDS (64 in all). Prints per operation and phase:
# requests, rps, p50/p99, unexpected errors and deliberate conflicts; the p99 ratio of the
# non-login requests with and without the login load; and the server's peak RSS. Then queue
# readers, editors and deciders each run alone for ALONE_SECONDS, so the server's CPU ms and SQL
# statements per request (printed for every phase) are known per update and per decision.
# BIN_DIR runs other binaries (an older commit's, for a before/after table); NO_BUILD skips
# the build.
#
#   bench/load.sh                  # 150,000 seeded cases, 60 s per phase
#   SEED=20000 SECONDS_PER_PHASE=20 bench/load.sh
#
# Needs the machine's PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
# /metrics on the main listener answers only this bearer token (ONESTOP_METRICS_TOKEN).
METRICS_TOKEN="${METRICS_TOKEN:-bench-metrics-token-not-a-secret}"
cd "$(dirname "$0")/.."

SEED=${SEED:-150000}
SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-60}
PORT=${PORT:-18433}
PG=${PG:-postgres://postgres@127.0.0.1:5432}

BIN_DIR=${BIN_DIR:-target/release}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --features bench --bin onestop --bin onestop-bench-seed --bin onestop-bench-load
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

name=onestop_bench_load
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
# The throttles are opened wide: every client here shares one address, and the point is to
# measure what argon2 costs the other requests, not to watch the throttle refuse logins.
export ONESTOP_DATABASE_URL="$PG/$name" ONESTOP_DATA_DIR="$work/data" ONESTOP_LOG=warn \
  ONESTOP_BIND="127.0.0.1:$PORT" ONESTOP_METRICS_BIND=off ONESTOP_METRICS_TOKEN="$METRICS_TOKEN" ONESTOP_ACCESS_TOKEN_TTL_SECS=3600 \
  ONESTOP_LOGIN_PER_ACCOUNT_PER_MINUTE=1000000 ONESTOP_LOGIN_PER_ADDRESS_PER_MINUTE=1000000
"$BIN_DIR/onestop-bench-seed" "$SEED" >/dev/null
psql "$PG/$name" -qc "VACUUM ANALYZE" >/dev/null
"$BIN_DIR/onestop" serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

# The driver is always this commit's: the same clients against either server.
PHASE_SECONDS=$SECONDS_PER_PHASE MERCHANTS=$(( (SEED + 9) / 10 )) SERVER_PID=$pid \
  target/release/onestop-bench-load "http://127.0.0.1:$PORT" | tee "$work/load.txt"
rss=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
echo "peak RSS: ${rss} MiB; password hashing concurrency: ${ONESTOP_PASSWORD_HASH_CONCURRENCY:-default (cores/2)}"
if grep -qi "panic\|ERROR" "$work/server.log"; then
  echo "server log has errors:"; grep -i "panic\|ERROR" "$work/server.log" | head -20
fi
kill "$pid"; wait "$pid" 2>/dev/null || true
