-- ArgoCD health check of switchyard.dev Variables (charts/switchyard-operator/argocd;
-- see docs/operator.md). Reads the conditions the Switchyard operator writes, once it
-- has seen the current generation. Tested by operator/tests/argocd_health.rs.
local hs = {status = "Progressing", message = "Waiting for the Switchyard operator"}
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Being deleted"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata ~= nil and obj.metadata.generation or nil
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local ready, progressing
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then ready = condition end
  if condition.type == "Progressing" then progressing = condition end
end
if ready == nil then
  return hs
end
hs.message = ready.message or ready.reason or ""
if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  -- InvalidSpec: the message names the field.
  hs.status = "Degraded"
end
return hs
