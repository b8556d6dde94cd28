{{/*
Names and labels, following the layout `helm create` generates.
*/}}

{{/* The chart name, overridable. */}}
{{- define "session-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-qualified name every object is called by (63 characters at most). */}}
{{- define "session-gateway.fullname" -}}
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

{{/* chart-name-version, for the helm.sh/chart label. */}}
{{- define "session-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "session-gateway.labels" -}}
helm.sh/chart: {{ include "session-gateway.chart" . }}
{{ include "session-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the gateway pods (never change them on upgrade). */}}
{{- define "session-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "session-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "session-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "session-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding master key, admin key and database URL: ours or the user's. */}}
{{- define "session-gateway.secretName" -}}
{{- default (include "session-gateway.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The container image reference. */}}
{{- define "session-gateway.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* "true" when the database is SQLite (a file in the data volume), else "". */}}
{{- define "session-gateway.sqlite" -}}
{{- if eq .Values.database.type "sqlite" }}true{{ end }}
{{- end }}

{{/* The data volume's claim name when SQLite persists to a PVC. */}}
{{- define "session-gateway.claimName" -}}
{{- default (include "session-gateway.fullname" .) .Values.persistence.existingClaim }}
{{- end }}

{{/*
Refuses settings that cannot work, with a message saying what to change. Included by the
Deployment so that `helm install`, `helm template` and `helm lint` all stop on them.
*/}}
{{- define "session-gateway.validate" -}}
{{- $type := .Values.database.type }}
{{- if not (has $type (list "sqlite" "postgresql")) }}
{{- fail (printf "database.type must be \"sqlite\" or \"postgresql\", not %q" $type) }}
{{- end }}
{{- if eq $type "sqlite" }}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- fail "SQLite is one file owned by one process: with database.type=sqlite keep replicaCount=1 and autoscaling.enabled=false, or use database.type=postgresql for several replicas" }}
{{- end }}
{{- end }}
{{- if and (eq $type "postgresql") (not .Values.secrets.existingSecret) (not .Values.database.url) }}
{{- fail "database.type=postgresql needs database.url (postgres://USER:PASSWORD@HOST:5432/DB) or secrets.existingSecret holding it" }}
{{- end }}
{{- if and .Values.database.url (not (hasPrefix "postgres" .Values.database.url)) }}
{{- fail "database.url must start with postgres:// or postgresql:// (SQLite needs no URL: use database.type=sqlite)" }}
{{- end }}
{{- with .Values.secrets.masterKey }}
{{- if ne (len (b64dec .)) 32 }}
{{- fail "secrets.masterKey must be base64 of exactly 32 bytes (openssl rand -base64 32)" }}
{{- end }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "autoscaling.maxReplicas must be at least autoscaling.minReplicas" }}
{{- end }}
{{- end }}

{{/*
A settings value as an environment variable value: lists comma-joined (the gateway splits
network.seeds on commas), whole numbers without an exponent, everything else as text.
*/}}
{{- define "session-gateway.envValue" -}}
{{- if kindIs "slice" . }}
{{- join "," . }}
{{- else if kindIs "float64" . }}
{{- if eq (float64 (int64 .)) . }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else }}
{{- . }}
{{- end }}
{{- end }}
