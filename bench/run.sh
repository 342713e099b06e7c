#!/usr/bin/env bash
# Case-workflow benchmark (issue 3): seeds N submitted cases × 5 filings into SQLite and
# PostgreSQL, starts the release server on each, and measures the review-queue query and the
# case-detail query with wrk at 32 connections: requests/s, p50/p99 latency, GraphQL errors
# counted in response bodies, the server's peak RSS, and — figures that hold on a noisy machine —
# the server's CPU time per request (utime+stime from /proc/<pid>/stat around the wrk run), SQL
# statements per request (the server's own counter, /metrics) and, on PostgreSQL, transactions
# per request (pg_stat_database.xact_commit).
#
#   bench/run.sh                 # 1,000 and 100,000 cases, both databases, 20 s per query
#   SIZES="1000" DURATION=10s DATABASES=sqlite bench/run.sh
#
# Every answer is computed: nothing is kept between requests.
#
# Needs wrk (apt-get install wrk) and the machine's PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
# /metrics on the main listener answers only this bearer token (ONESTOP_METRICS_TOKEN).
METRICS_TOKEN="${METRICS_TOKEN:-bench-metrics-token-not-a-secret}"
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000 100000"}
DATABASES=${DATABASES:-"sqlite postgres"}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18431}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }

# One build for both binaries (a second feature set would compile the crate twice). BIN_DIR
# runs other binaries (an older commit's, for a before/after table); NO_BUILD skips the build.
BIN_DIR=${BIN_DIR:-target/release}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --features bench --bin onestop --bin onestop-bench-seed
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

queue='{"query":"{ reviewQueue(first: 20) { edges { cursor node { id kind status dueAt overdue case { reference merchant { name } } assignee { email } } } pageInfo { hasNextPage endCursor } } }"}'

gql() { # token body
  curl -sf -X POST "http://127.0.0.1:$PORT/graphql" -H 'content-type: application/json' ${1:+-H "authorization: Bearer $1"} -d "$2"
}

printf '%-9s %8s %-12s %8s %8s %8s %7s %9s %8s %8s %8s\n' database cases query rps p50_ms p99_ms errors rss_mib cpu_ms stmts xacts
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
statements() { curl -sf -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$PORT/metrics" | awk '/^onestop_sql_statements_total/ { print $2 }'; }
commits() { # database name; 0 on SQLite
  if [ "$db" = postgres ]; then psql "$PG/postgres" -tAc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$1'"; else echo 0; fi
}
for db in $DATABASES; do
  for n in $SIZES; do
    name="onestop_bench_${n}"
    if [ "$db" = sqlite ]; then
      url="sqlite://$work/bench-$n.db?mode=rwc"
    else
      psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
      url="$PG/$name"
    fi
    export ONESTOP_DATABASE_URL="$url" ONESTOP_DATA_DIR="$work/data" ONESTOP_LOG=warn \
      ONESTOP_BIND="127.0.0.1:$PORT" ONESTOP_METRICS_BIND=off ONESTOP_METRICS_TOKEN="$METRICS_TOKEN" ONESTOP_ACCESS_TOKEN_TTL_SECS=3600
    case_id=$("$BIN_DIR/onestop-bench-seed" "$n" | sed -n 's/^case_id=//p')
    # As autovacuum would after so many inserts: the visibility map index-only scans need.
    [ "$db" = postgres ] && psql "$url" -qc "VACUUM ANALYZE" >/dev/null
    "$BIN_DIR/onestop" serve >"$work/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
    token=$(gql "" '{"query":"mutation { login(email: \"customs@bench.onestop.cn\", password: \"Bench-Peppercorn-Lantern-2026\") { accessToken } }"}' \
      | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
    detail="{\"query\":\"{ case(id: \\\"$case_id\\\") { reference status merchant { name uscc } filings { kind status version dueAt overdue assignee { email } } events { action at hash } comments { body } } }\"}"
    for q in queue detail; do
      body=$queue; [ "$q" = detail ] && body=$detail
      gql "$token" "$body" | grep -q '"errors"' && { echo "query $q fails:"; gql "$token" "$body"; exit 1; }
      cpu0=$(cpu_ticks "$pid"); st0=$(statements); x0=$(commits "$name")
      result=$(TOKEN=$token BODY=$body wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s bench/graphql.lua "http://127.0.0.1:$PORT/graphql" | grep '^RESULT')
      cpu1=$(cpu_ticks "$pid"); st1=$(statements); x1=$(commits "$name")
      rss=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
      eval "$(echo "$result" | sed 's/^RESULT //')"
      per() { awk -v a="$1" -v b="$2" -v n="$requests" -v k="$3" 'BEGIN { printf "%.2f", (b - a) * k / n }'; }
      printf '%-9s %8s %-12s %8s %8s %8s %7s %9s %8s %8s %8s\n' "$db" "$n" "$q" "$rps" "$p50_ms" "$p99_ms" "$((graphql_errors + non_200))" "$rss" \
        "$(per "$cpu0" "$cpu1" "$(awk -v t="$ticks" 'BEGIN { print 1000 / t }')")" "$(per "$st0" "$st1" 1)" "$(per "$x0" "$x1" 1)"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [ "$db" = postgres ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
  done
done
