{{/* Name of the chart's objects. */}}
{{- define "homesim.fullname" -}}
{{- printf "%s" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Standard labels. */}}
{{- define "homesim.labels" -}}
app.kubernetes.io/name: homesim
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: homesim
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "homesim.selector" -}}
app.kubernetes.io/name: homesim
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "homesim.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
