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

{{/* The Secret with the gateway's certificate and key (tls.enabled). */}}
{{- define "secrets-gateway.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "secrets-gateway.fullname" .)) .Values.tls.secretName }}
{{- end }}

{{/*
The gateway's configuration: .Values.config, and with tls.enabled its server.tls made from
.Values.tls and the paths where the Secrets are mounted.
*/}}
{{- define "secrets-gateway.config" -}}
{{- $config := deepCopy .Values.config }}
{{- if .Values.tls.enabled }}
{{- $tls := dict "cert_file" "/var/run/secrets-gateway/tls/tls.crt" "key_file" "/var/run/secrets-gateway/tls/tls.key" "client_auth" .Values.tls.clientAuth "min_version" .Values.tls.minVersion "certificate_only" .Values.tls.certificateOnly }}
{{- if ne .Values.tls.clientAuth "none" }}
{{- $_ := set $tls "ca_file" (ternary "/var/run/secrets-gateway/client-ca/ca.crt" "/var/run/secrets-gateway/tls/ca.crt" (ne .Values.tls.clientCA.secretName "")) }}
{{- end }}
{{- $server := default dict $config.server }}
{{- $_ := set $server "tls" $tls }}
{{- $_ := set $config "server" $server }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
A probe as the values give it. With tls.enabled an httpGet probe speaks HTTPS (the kubelet does
not check the certificate); with client_auth require, where the kubelet (which has no client
certificate) cannot finish a handshake, it becomes a TCP check of the same port.
*/}}
{{- define "secrets-gateway.probe" -}}
{{- $probe := deepCopy .probe }}
{{- if and .root.Values.tls.enabled $probe.httpGet }}
{{- if eq .root.Values.tls.clientAuth "require" }}
{{- $_ := set $probe "tcpSocket" (dict "port" $probe.httpGet.port) }}
{{- $_ := unset $probe "httpGet" }}
{{- else }}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
{{- end }}
{{- end }}
{{- toYaml $probe }}
{{- end }}
