#!/usr/bin/env bash
# submitCase of a five-filing case with no decision rule and with 20 enabled rules per kind
# (issue 12), 32 connections, same server and database, on PostgreSQL (and SQLite with
# DATABASES="postgres sqlite"). See bench/submit.rs for what is measured.
#
#   bench/submit.sh
#   CASES=20 RULES=20 DATABASES=postgres bench/submit.sh
set -euo pipefail
# /metrics on the main listener answers only this bearer token (ONESTOP_METRICS_TOKEN).
METRICS_TOKEN="${METRICS_TOKEN:-bench-metrics-token-not-a-secret}"
cd "$(dirname "$0")/.."

DATABASES=${DATABASES:-postgres}
PORT=${PORT:-18434}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
export CONNECTIONS=${CONNECTIONS:-32} CASES=${CASES:-10} RULES=${RULES:-20} ROUNDS=${ROUNDS:-6}

cargo build --release --quiet --features bench --bin onestop --bin onestop-bench-seed --bin onestop-bench-submit
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
for db in $DATABASES; do
  name=onestop_bench_submit
  if [ "$db" = sqlite ]; then
    url="sqlite://$work/submit.db?mode=rwc"
  else
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
    url="$PG/$name"
  fi
  # Throttles opened wide: every client shares one address.
  export ONESTOP_DATABASE_URL="$url" DATABASE_URL="$url" ONESTOP_DATA_DIR="$work/data" ONESTOP_LOG=warn \
    ONESTOP_BIND="127.0.0.1:$PORT" ONESTOP_METRICS_BIND=off ONESTOP_METRICS_TOKEN="$METRICS_TOKEN" ONESTOP_ACCESS_TOKEN_TTL_SECS=3600 \
    ONESTOP_LOGIN_PER_ACCOUNT_PER_MINUTE=1000000 ONESTOP_LOGIN_PER_ADDRESS_PER_MINUTE=1000000
  target/release/onestop-bench-seed $((CONNECTIONS * ROUNDS * 10)) >/dev/null
  target/release/onestop serve >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  echo "== $db"
  SERVER_PID=$pid target/release/onestop-bench-submit "http://127.0.0.1:$PORT"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  [ "$db" = postgres ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
done
