-- wrk script for bench/stream.py: Range GETs of a fixed length at random offsets.
-- Arguments after "--": file size, range length, Cookie header value (or "-" for none).
local size, length, cookie

function init(args)
  size, length, cookie = tonumber(args[1]), tonumber(args[2]), args[3]
  math.randomseed(12345)
end

function request()
  local offset = math.random(0, size - length)
  local headers = { Range = string.format("bytes=%d-%d", offset, offset + length - 1) }
  if cookie ~= "-" then headers["Cookie"] = cookie end
  return wrk.format("GET", nil, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(99)))
end
