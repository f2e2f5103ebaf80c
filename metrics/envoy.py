"""The Gateway's Envoy metrics that compare the plain listener (8080) with the inference-aware one (8081).

ACK's Gateway with Inference Extension runs Envoy Gateway proxies. What this module assumes about them (none of
it can be checked offline; docs/observability.md repeats it):

- each proxy pod serves Envoy's Prometheus stats on port 19001 at `/stats/prometheus` and carries the labels
  `app.kubernetes.io/component: proxy` and `app.kubernetes.io/managed-by: envoy-gateway`;
- Envoy Gateway gives each HTTP listener's connection manager the stat prefix `http-<port>` (`https-<port>` with
  TLS), which Envoy's tag extraction exposes as the label `envoy_http_conn_manager_prefix`. Older Envoy Gateway
  releases used a plain `http` for every listener; there the panels show one combined line;
- Envoy exports counters under their own names (no `_total` added) and request time in milliseconds.
"""

from __future__ import annotations

LISTENER = "envoy_http_conn_manager_prefix"
RESPONSE_CLASS = "envoy_response_code_class"
# Traffic listeners only: leaves out Envoy's `admin` and Envoy Gateway's internal readiness and stats listeners.
TRAFFIC_LISTENERS = "https?(-[0-9]+)?"

REQUESTS = "envoy_http_downstream_rq_total"
REQUESTS_BY_CLASS = "envoy_http_downstream_rq_xx"
REQUESTS_ACTIVE = "envoy_http_downstream_rq_active"
# Histogram, milliseconds.
REQUEST_TIME = "envoy_http_downstream_rq_time"

NAMES = (REQUESTS, REQUESTS_BY_CLASS, REQUESTS_ACTIVE, *(REQUEST_TIME + s for s in ("_bucket", "_sum", "_count")))

PROXY_POD_LABELS = {"app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway"}
STATS_PORT = 19001
STATS_PATH = "/stats/prometheus"
