-- ArgoCD health check of switchyard.dev Tenants (charts/switchyard-operator/argocd;
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
if progressing ~= nil and progressing.reason == "ReconciliationPaused" then
  -- switchyard.dev/pause-reconciliation=true: nothing changes until it is removed.
  hs.status = "Suspended"
  hs.message = progressing.message or hs.message
elseif ready.status == "True" then
  if progressing ~= nil and progressing.status == "True" then
    -- Runners serve; a new configuration is rolling out to them.
    hs.message = progressing.message or hs.message
  else
    -- Running, or NoRegionHere (this cluster's operator serves none of its regions).
    hs.status = "Healthy"
  end
elseif ready.status == "False" and ready.reason ~= "RunnerUnavailable" and ready.reason ~= "RunnerUnschedulable" then
  -- InvalidSpec, DuplicateTenant, RunnerCrashLooping: a human must act. (A runner
  -- that is starting, RunnerUnavailable, or waiting for a node, RunnerUnschedulable,
  -- which an autoscaler may add, stays Progressing; the message says what to fix.)
  hs.status = "Degraded"
end
return hs
