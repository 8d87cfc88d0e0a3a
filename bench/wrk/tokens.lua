-- wrk script for the load benchmark.
--
-- TOKENS_FILE: one bearer token per line. With several tokens, every request takes the next
-- token in the file (cycling; each wrk thread starts at a different offset); with one token the
-- request is pre-built once (wrk's static fast path). Headers given with -H are sent either
-- way. Without TOKENS_FILE, no Authorization header is sent (HTTP floor).
--
-- At the end one JSON line is printed, prefixed "WRK_JSON ", with requests, duration, req/s,
-- latency percentiles (microseconds) and error counts.

local tokens = {}
local path = os.getenv("TOKENS_FILE")
if path and path ~= "" then
  for line in io.lines(path) do
    if line ~= "" then tokens[#tokens + 1] = line end
  end
  if #tokens == 0 then error("no tokens in " .. path) end
end

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
  table.insert(threads, thread)
end

if #tokens == 1 then
  wrk.headers["Authorization"] = "Bearer " .. tokens[1]
elseif #tokens > 1 then
  local i = 0
  -- wrk.format uses the table it is given instead of wrk.headers: copy the -H headers into it.
  local headers = {}
  function init(args)
    i = (offset or 0) % #tokens
    for name, value in pairs(wrk.headers) do headers[name] = value end
  end
  function request()
    i = i % #tokens + 1
    headers["Authorization"] = "Bearer " .. tokens[i]
    return wrk.format(nil, nil, headers)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
    '"errors_status":%d,"errors_timeout":%d,"tokens":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, #tokens))
end
