#!/usr/bin/env bash
# processingStats at scale (issue 14): seeds N cases × 5 filings (a quarter of the filings
# approved over the past year, each with its processing time) into PostgreSQL, starts the release
# server, and asks for 12 months grouped by all five dimensions (AGENCY, KIND, REGION, OFFICER,
# MONTH) as the customs supervisor of all twelve regions — and as an administrator's view of
# every agency — with wrk at 8 connections: requests/s, p50/p99, errors, CPU ms and SQL
# statements per request; then serviceLevels (public).
#
#   bench/stats.sh               # 100,000 cases, 20 s per query
#   CASES=1000 DURATION=5s bench/stats.sh
set -euo pipefail
# /metrics on the main listener answers only this bearer token (ONESTOP_METRICS_TOKEN).
METRICS_TOKEN="${METRICS_TOKEN:-bench-metrics-token-not-a-secret}"
cd "$(dirname "$0")/.."

CASES=${CASES:-100000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-8}
PORT=${PORT:-18432}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --features bench --bin onestop --bin onestop-bench-seed
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
name=onestop_bench_stats
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
export ONESTOP_DATABASE_URL="$PG/$name" ONESTOP_DATA_DIR="$work/data" ONESTOP_LOG=warn ONESTOP_BIND="127.0.0.1:$PORT" ONESTOP_METRICS_BIND=off ONESTOP_METRICS_TOKEN="$METRICS_TOKEN" ONESTOP_ACCESS_TOKEN_TTL_SECS=3600
target/release/onestop-bench-seed "$CASES" >/dev/null
# As autovacuum would after so many inserts: the visibility map index-only scans need.
psql "$PG/$name" -qc "VACUUM ANALYZE" >/dev/null
target/release/onestop serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
gql() { curl -sf -X POST "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' ${1:+-H "authorization: Bearer $1"} -d "$2"; }
token=$(gql "" '{"query":"mutation { login(email: \"supervisor@bench.onestop.cn\", password: \"Bench-Peppercorn-Lantern-2026\") { accessToken } }"}' | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
to=$(TZ=Asia/Shanghai date +%F)
from=$(TZ=Asia/Shanghai date -d '-12 months' +%F)
stats="{\"query\":\"{ processingStats(from: \\\"$from\\\", to: \\\"$to\\\", groupBy: [AGENCY, KIND, REGION, OFFICER, MONTH]) { agency kind regionCode month received decided approved autoApproved correctionRounds medianWorkingDays p90WorkingDays onTimeShare } }\"}"
levels='{"query":"{ serviceLevels { kind statutoryWorkingDays medianWorkingDays onTimeShare sample } }"}'
rows=$(gql "$token" "$stats" | grep -o '"agency"' | wc -l)
echo "processingStats rows for 12 months × all five dimensions: $rows"
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
statements() { curl -sf -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$PORT/metrics" | awk '/^onestop_sql_statements_total/ { print $2 }'; }
printf '%-16s %8s %8s %8s %7s %8s %8s\n' query rps p50_ms p99_ms errors cpu_ms stmts
for q in stats levels; do
  body=$stats; [ "$q" = levels ] && body=$levels
  gql "$token" "$body" | grep -q '"errors"' && { echo "query $q fails:"; gql "$token" "$body"; exit 1; }
  cpu0=$(cpu_ticks "$pid"); st0=$(statements)
  result=$(TOKEN=$token BODY=$body wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s bench/graphql.lua "http://127.0.0.1:$PORT/graphql" | grep '^RESULT')
  cpu1=$(cpu_ticks "$pid"); st1=$(statements)
  eval "$(echo "$result" | sed 's/^RESULT //')"
  per() { awk -v a="$1" -v b="$2" -v n="$requests" -v k="$3" 'BEGIN { printf "%.2f", (b - a) * k / n }'; }
  printf '%-16s %8s %8s %8s %7s %8s %8s\n' "$q" "$rps" "$p50_ms" "$p99_ms" "$((graphql_errors + non_200))" \
    "$(per "$cpu0" "$cpu1" "$(awk -v t="$ticks" 'BEGIN { print 1000 / t }')")" "$(per "$st0" "$st1" 1)"
done
kill "$pid"; wait "$pid" 2>/dev/null || true
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
