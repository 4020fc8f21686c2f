{{/* The prefix of every object's name: the release name, or fullnameOverride. */}}
{{- define "netspectra.fullname" -}}
{{ .Values.fullnameOverride | default .Release.Name | trunc 50 | trimSuffix "-" }}
{{- end }}

{{- define "netspectra.labels" -}}
app.kubernetes.io/name: netspectra
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: netspectra-{{ .Chart.Version }}
{{- end }}

{{- define "netspectra.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "netspectra.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{ .Values.secrets.existingSecret }}
{{- else -}}
{{ include "netspectra.fullname" . }}-secrets
{{- end -}}
{{- end }}

{{/* Pods of every role but the probe: an unprivileged user (the image's), no capabilities. */}}
{{- define "netspectra.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "netspectra.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* The configuration file, and writable folders on a read-only root: the data folder (the
spill of a ClickHouse writer) and /tmp. */}}
{{- define "netspectra.volumeMounts" -}}
- name: config
  mountPath: /etc/netspectra
  readOnly: true
- name: data
  mountPath: /var/lib/netspectra
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "netspectra.volumes" -}}
- name: config
  configMap:
    name: {{ include "netspectra.fullname" . }}-config
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end }}

{{- define "netspectra.natsEnv" -}}
- name: NETSPECTRA_NATS_URL
  value: {{ .Values.nats.url | quote }}
- name: NETSPECTRA_NATS_JETSTREAM
  value: {{ .Values.nats.jetstream | quote }}
{{- end }}

{{- define "netspectra.storageEnv" -}}
- name: NETSPECTRA_STORAGE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "netspectra.secretName" . }}
      key: clickhouse-password
      optional: true
{{- end }}

{{- define "netspectra.tokensEnv" -}}
- name: NETSPECTRA_API_TOKENS
  valueFrom:
    secretKeyRef:
      name: {{ include "netspectra.secretName" . }}
      key: api-tokens
{{- end }}

{{- define "netspectra.aiKeyEnv" -}}
- name: NETSPECTRA_AI_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "netspectra.secretName" . }}
      key: ai-key
      optional: true
{{- end }}

{{/* The API's in-cluster names, for its Host allow-list. */}}
{{- define "netspectra.apiHosts" -}}
{{ include "netspectra.fullname" . }}-api,{{ include "netspectra.fullname" . }}-api.{{ .Release.Namespace }},{{ include "netspectra.fullname" . }}-api.{{ .Release.Namespace }}.svc,{{ include "netspectra.fullname" . }}-api.{{ .Release.Namespace }}.svc.cluster.local
{{- end }}
