-- wrk script: every request POSTs one new lead.created event to /api/v1/events.
-- Each wrk thread numbers its own events; BENCH_RUN keeps runs apart.
--   BENCH_TOKEN        intake token (default dev-intake-token)
--   BENCH_RUN          prefix of every eventId and lead id (default: the time)
--   BENCH_DELAY_MS     pause before each request on a connection (0: as fast as
--                      answers come); connections / delay = the offered rate
-- done() prints "accepted=N" (202 answers) and "other=N" for the script.
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local token = os.getenv("BENCH_TOKEN") or "dev-intake-token"
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local threads = {}
counter = 0
accepted = 0
other = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local id = run .. "-" .. tid .. "-" .. counter
  local body = '{"eventId":"e-' .. id .. '","type":"lead.created",' ..
    '"occurredAt":"2026-11-23T10:15:00Z","data":{"id":"' .. id .. '",' ..
    '"name":"Bench Lead","email":"lead' .. counter .. '@example.com",' ..
    '"phone":"+919800000000","status":"NEW","budgetMin":5000000,' ..
    '"budgetMax":7500000,"preferredLocation":["Baner"],"utmSource":"google"}}'
  return wrk.format(nil, "/api/v1/events", nil, body)
end

if pause > 0 then
  function delay()
    return pause
  end
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    o = o + thread:get("other")
  end
  io.write(string.format("accepted=%d\nother=%d\n", a, o))
  io.write(string.format("p50_ms=%.2f\np99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
