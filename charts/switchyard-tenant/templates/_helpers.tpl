{{- define "switchyard-tenant.name" -}}
{{- default .Release.Name .Values.name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "switchyard-tenant.labels" -}}
app.kubernetes.io/name: switchyard-tenant
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "switchyard-tenant.apiSecret" -}}
{{- default (printf "%s-api" .Release.Name) .Values.api.existingSecret -}}
{{- end -}}

{{/* The non-empty entries of a map (empty maps, lists and strings dropped), keeping the
keys listed in `keep` when they hold a list, even an empty one. */}}
{{- define "switchyard-tenant.pruned" -}}
{{- $out := dict -}}
{{- range $key, $value := .values -}}
{{- if or $value (and (has $key $.keep) (kindIs "slice" $value)) -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
