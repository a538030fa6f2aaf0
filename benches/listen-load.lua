-- wrk script for benches/listen-load.sh: POSTs pre-signed 1 KB envelopes to `sfhooks listen`.
--
-- wrk's Lua cannot compute HMAC-SHA256, so listen-load.sh signs every request ahead of time and
-- writes one line per request, "<webhook-id> <base64 HMAC>", to the file in $SIGS. Each
-- wrk thread takes every THREADS-th line, so no two requests share a webhook-id until the list runs
-- out; after that ids repeat and the listener acknowledges them through its duplicate path (the
-- script reports how many did).

local body_file = os.getenv("BODY")
local sigs_file = os.getenv("SIGS")
local timestamp = os.getenv("TS")

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local body
local ids = {}
local signatures = {}
local next_request = 1

function init(args)
  local f = assert(io.open(body_file, "rb"))
  body = f:read("*a")
  f:close()
  local line_no = 0
  for line in io.lines(sigs_file) do
    if line_no % counter_total() == index then
      local id, sig = line:match("^(%S+) (%S+)$")
      ids[#ids + 1] = id
      signatures[#signatures + 1] = "v1," .. sig
    end
    line_no = line_no + 1
  end
  assert(#ids > 0, "no signed requests for this thread")
end

-- The thread count, passed by listen-load.sh (wrk gives threads no other way to know it).
function counter_total()
  return tonumber(os.getenv("THREADS"))
end

local sent = 0

function request()
  local i = next_request
  next_request = next_request % #ids + 1
  sent = sent + 1
  return wrk.format("POST", "/hooks", {
    ["Content-Type"] = "application/json",
    ["webhook-id"] = ids[i],
    ["webhook-timestamp"] = timestamp,
    ["webhook-signature"] = signatures[i],
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests completed: %d, of which errors (connect/read/write/timeout/status): %d/%d/%d/%d/%d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status))
end
