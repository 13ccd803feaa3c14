counter = 0
local thread_id = 0
function setup(thread) thread:set("id", thread_id); thread_id = thread_id + 1 end
function init(args) math.randomseed(os.time() + id) end
request = function()
  counter = counter + 1
  local key = string.format("k-%d-%d-%d", id, counter, math.random(1, 1000000000))
  local body = '{"lines":[{"sku":"HOT-1","quantity":1}],"payment_token":"tok_visa","shipping_address":{"name":"A","line1":"1 Road","city":"London","postal_code":"N1","country":"GB"}}'
  return wrk.format("POST", "/v1/orders", {["content-type"]="application/json", ["Idempotency-Key"]=key}, body)
end
