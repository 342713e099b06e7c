-- wrk script: POSTs one GraphQL request (BODY) with a bearer token (TOKEN) and counts
-- responses that carry GraphQL errors (they arrive with HTTP 200).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "")
wrk.body = os.getenv("BODY")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  gql_errors = 0
  non_200 = 0
end

function response(status, headers, body)
  if status ~= 200 then
    non_200 = non_200 + 1
  elseif string.find(body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
  end
end

function done(summary, latency, requests)
  local errors, bad = 0, 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("gql_errors")
    bad = bad + thread:get("non_200")
  end
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d graphql_errors=%d non_200=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors, bad + summary.errors.status))
end
