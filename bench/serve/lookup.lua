-- wrk script: POST /get-online-features with KEYS entity keys (env, default
-- 1) of user_orders; the keys cycle through the fixture's users and
-- unknown ones, so some lookups miss, as in production.
local keys = tonumber(os.getenv("KEYS") or "1")
local users = { "x", "y", "z" }
local list = {}
for i = 1, keys do
  local u = users[(i - 1) % #users + 1]
  if i > #users then u = "user-" .. i end
  list[#list + 1] = string.format("%q", u)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format(
  '{"features": ["user_orders:cpf_orders__count_over_3_days_rolling_windows",'
  .. ' "user_orders:cpf_orders__count_over_30_days_rolling_windows"],'
  .. ' "entities": {"cpf": [%s]}}',
  table.concat(list, ", "))

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    wrk.thread:stop()
  end
end
