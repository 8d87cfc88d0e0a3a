-- wrk script for the soak test: mixed routes for many users.
--
-- TOKENS_FILE: one bearer token per line (each a different user). Every request picks the next
-- token and one of: GET /api/me (40 %), POST /api/tasks (30 %), GET /api/tasks?limit=10 (30 %).
-- At the end one line "SOAK_JSON {...}" gives requests, non-2xx responses and socket errors.

local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  if line ~= "" then tokens[#tokens + 1] = line end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads * 101)
end

local i = 0
local bad = 0
function init(args)
  i = offset or 0
end

function request()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  local headers = { ["Authorization"] = "Bearer " .. token }
  local r = i % 10
  if r < 4 then
    return wrk.format("GET", "/api/me", headers)
  elseif r < 7 then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/tasks", headers, '{"title":"soak task ' .. i .. '"}')
  else
    return wrk.format("GET", "/api/tasks?limit=10", headers)
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, t in ipairs(threads) do non2xx = non2xx + (t:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format(
    'SOAK_JSON {"requests":%d,"duration_s":%.1f,"rps":%.0f,"non_2xx":%d,"socket_errors":%d,"p50_ms":%.2f,"p99_ms":%.2f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), non2xx,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
