{{/*
Chart name, truncated to the 63 characters Kubernetes allows in names.
*/}}
{{- define "web.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart> unless the release name already
contains the chart name. Truncated to 63 characters.
*/}}
{{- define "web.fullname" -}}
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

{{/*
Chart label value: name-version.
*/}}
{{- define "web.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels for every object.
*/}}
{{- define "web.labels" -}}
helm.sh/chart: {{ include "web.chart" . }}
{{ include "web.selectorLabels" . }}
app.kubernetes.io/version: {{ include "web.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ .Release.Name }}
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: stable across upgrades, used by Services and Deployments.
*/}}
{{- define "web.selectorLabels" -}}
app.kubernetes.io/name: {{ include "web.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Image tag: .Values.image.tag, else the chart appVersion.
*/}}
{{- define "web.version" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
Full image reference.
*/}}
{{- define "web.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "web.version" .) }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "web.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "web.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the bundled Redis service (matches redis.fullname in the subchart).
*/}}
{{- define "web.redisHost" -}}
{{- printf "%s-redis" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Ingress hosts: .Values.ingress.hosts, else one host named after the release in
global.domain (or .local), serving path /.
*/}}
{{- define "web.ingressHosts" -}}
{{- if .Values.ingress.hosts }}
{{- toYaml .Values.ingress.hosts }}
{{- else }}
{{- $domain := .Values.global.domain | default "local" }}
- host: {{ printf "%s.%s" (include "web.fullname" .) $domain }}
  paths:
    - path: /
      pathType: Prefix
{{- end }}
{{- end }}
