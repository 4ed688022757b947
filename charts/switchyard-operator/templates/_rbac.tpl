{{/*
The operator's permissions in a namespace it reconciles. Rendered into one ClusterRole
when watchNamespaces is empty (every namespace), else into one Role per listed
namespace. Every verb is there for a reason given beside it; there is no wildcard, no
Secret access at all (runners get Secrets as mounted volumes, so the operator never
reads or writes one) and no write to any resource's spec.
*/}}
{{- define "switchyard-operator.namespacedRules" -}}
# Switchyard resources: read to reconcile them. get: one object; list + watch: the
# controller's informers, and each reconcile lists its namespace. Never written: GitOps
# tools own their specs.
- apiGroups: [switchyard.dev]
  resources: [tenants, routes, connections, transformers, valuetables, notifications, variables]
  verbs: [get, list, watch]
# Their status subresources: the operator reports Ready/Progressing/Degraded there.
# patch: server-side apply of the status (the only way it writes them); get: read back.
- apiGroups: [switchyard.dev]
  resources: [tenants/status, routes/status, connections/status, transformers/status, valuetables/status, notifications/status, variables/status]
  verbs: [get, patch]
# The runner objects it creates per tenant region (labelled and owned by the Tenant).
# get/list/watch: informers and drift detection; create + patch: server-side apply
# (create when the object is new); delete: a region or queue backend removed from the
# Tenant. No update: every write is a server-side apply.
- apiGroups: [""]
  resources: [serviceaccounts, configmaps, services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
# The runners' Role and RoleBinding. Kubernetes lets it grant only what it holds itself
# (no escalate or bind verb here): the runners' Role allows configmaps get/watch and
# routes/connections status get/patch, all of which appear in this list.
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch, delete]
# The runners' pods: read so a crash-looping or unschedulable runner makes Ready false.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# Events on the resources whose Ready condition changes. create: a new Event; patch:
# the recorder bumps the count of a repeated one.
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* Names of the CRDs in the chart's crds/ folder (`<plural>.<group>`, the file name). */}}
{{- define "switchyard-operator.crdNames" -}}
{{- range $path, $_ := .Files.Glob "crds/*.yaml" }}
{{ printf "- %s" (base $path | trimSuffix ".yaml") }}
{{- end }}
{{- end -}}

{{/* The operator's ServiceAccount as an RBAC subject. */}}
{{- define "switchyard-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "switchyard-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}

{{/* Cluster-scoped permissions: only the CRDs (for --apply-crds). */}}
{{- define "switchyard-operator.clusterRules" -}}
{{- if .Values.crds.apply }}
# Server-side apply of Switchyard's own CRDs at start-up (crds.apply). create: a CRD
# that does not exist yet (it cannot be limited by name); get + patch: only these CRDs.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [create]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  resourceNames:
    {{- include "switchyard-operator.crdNames" . | trim | nindent 4 }}
  verbs: [get, patch]
{{- end }}
{{- end -}}
