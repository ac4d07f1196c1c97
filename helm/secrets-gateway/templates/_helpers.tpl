{{/* Names, labels and ports shared by the templates. */}}

{{- define "secrets-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "secrets-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "secrets-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "secrets-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "secrets-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "secrets-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "secrets-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "secrets-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The API port, from the gateway's own configuration (config.server.port). */}}
{{- define "secrets-gateway.httpPort" -}}
{{- dig "server" "port" 8080 .Values.config }}
{{- end }}

{{/* A separate metrics port (config.metrics.port), or empty when /metrics is on the API port. */}}
{{- define "secrets-gateway.metricsPort" -}}
{{- $port := dig "metrics" "port" 0 .Values.config }}
{{- if and $port (ne (toString $port) (include "secrets-gateway.httpPort" .)) }}{{ $port }}{{ end }}
{{- end }}

{{/* The name of the port Prometheus scrapes. */}}
{{- define "secrets-gateway.metricsPortName" -}}
{{- if include "secrets-gateway.metricsPort" . }}metrics{{ else }}http{{ end }}
{{- end }}

{{/* The existing Secret holding the audit log's fingerprint key. */}}
{{- define "secrets-gateway.auditKeySecretName" -}}
{{- default (printf "%s-audit-key" (include "secrets-gateway.fullname" .)) .Values.auditKey.secretName }}
{{- end }}
