-- wrk script for bench/serve.sh: POST a Send-mail-as check, count answers by status.
wrk.method = "POST"
wrk.body = '{"host": "mail.hanako-shop.example"}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do
      all[status] = (all[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(all) do
    table.insert(parts, string.format("%d=%d", status, n))
  end
  table.sort(parts)
  io.write(string.format("RESULT requests=%d seconds=%.1f p50_ms=%.1f p99_ms=%.1f socket_errors=%d statuses=%s\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
