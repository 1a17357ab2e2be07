-- wrk script: POST /get-online-features with KEYS entity keys (env, default
-- 1). Without WIDE, of user_orders: the keys cycle through the fixture's
-- users and unknown ones, so some lookups miss, as in production. With
-- WIDE=N, every feature of `featurestore-bench serve-wide`'s wide_N, keys
-- k0, k1, … (all stored).
local keys = tonumber(os.getenv("KEYS") or "1")
local wide = tonumber(os.getenv("WIDE") or "0")
local features = {}
local entity, list = "cpf", {}
if wide > 0 then
  entity = "id"
  for i = 1, wide do
    features[#features + 1] = string.format('"wide_%d:f%03d"', wide, i)
  end
  for i = 1, keys do
    list[#list + 1] = string.format('"k%d"', (i * 7919) % 10000)
  end
else
  features = {
    '"user_orders:cpf_orders__count_over_3_days_rolling_windows"',
    '"user_orders:cpf_orders__count_over_30_days_rolling_windows"',
  }
  local users = { "x", "y", "z" }
  for i = 1, keys do
    local u = users[(i - 1) % #users + 1]
    if i > #users then u = "user-" .. i end
    list[#list + 1] = string.format("%q", u)
  end
end
-- PAUSE_MS: each connection waits this long between requests, for a set
-- rate (connections × 1000 / PAUSE_MS requests per second) instead of as
-- many as the server answers.
local pause = tonumber(os.getenv("PAUSE_MS") or "0")
if pause > 0 then
  function delay() return pause end
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"features": [%s], "entities": {"%s": [%s]}}',
  table.concat(features, ", "), entity, table.concat(list, ", "))

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    wrk.thread:stop()
  end
end
