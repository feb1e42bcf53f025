-- wrk script of the bench (bench/wrk_driver.py sets the environment):
--   BENCH_MODE  "create": POST /api/tickets with a body picked at random from BENCH_INPUT
--               (one JSON document a line); "get": GET a path picked from BENCH_INPUT
--   BENCH_OUT   prefix of one log per thread: "<status> <Location>" for each answer
--   BENCH_KEY   API key sent as "Authorization: Bearer <key>" (optional)
-- done() prints one line "BENCH_JSON {...}" with counts, errors and latency percentiles.

local mode = os.getenv("BENCH_MODE") or "get"
local input = os.getenv("BENCH_INPUT")
local out = os.getenv("BENCH_OUT")
local key = os.getenv("BENCH_KEY")
local next_thread = 0

function setup(thread)
   thread:set("thread_no", next_thread)
   next_thread = next_thread + 1
end

function init(args)
   local headers = {}
   if key ~= nil and key ~= "" then
      headers["Authorization"] = "Bearer " .. key
   end
   if mode == "create" then
      headers["Content-Type"] = "application/json"
   end
   reqs = {}
   for line in io.lines(input) do
      if mode == "create" then
         reqs[#reqs + 1] = wrk.format("POST", "/api/tickets", headers, line)
      else
         reqs[#reqs + 1] = wrk.format("GET", line, headers)
      end
   end
   log = io.open(out .. "." .. thread_no, "w")
   math.randomseed(1009 + thread_no * 7919)
end

function request()
   return reqs[math.random(#reqs)]
end

function response(status, headers, body)
   local location = headers["Location"] or headers["location"]
   if location ~= nil then
      log:write(status, " ", location, "\n")
   else
      log:write(status, "\n")
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local parts = {}
   for _, p in ipairs({50, 90, 95, 99, 99.9}) do
      parts[#parts + 1] = string.format('"%s": %d', tostring(p), latency:percentile(p))
   end
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {%s, "mean": %.1f, "max": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      table.concat(parts, ", "), latency.mean, latency.max))
end
