{{/* Full name of the release's objects. */}}
{{- define "switchyard-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "switchyard-operator.serviceAccountName" -}}
{{- default (include "switchyard-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "switchyard-operator.selectorLabels" -}}
app.kubernetes.io/name: switchyard-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "switchyard-operator.labels" -}}
{{ include "switchyard-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The leader election Lease: one per release. */}}
{{- define "switchyard-operator.leaseName" -}}
{{- default (include "switchyard-operator.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}
