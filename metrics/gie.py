"""The self-hosted endpoint picker's own metrics (Gateway API Inference Extension `epp`), as the release this
project deploys (`registry.k8s.io/gateway-api-inference-extension/epp:v1.0.2`) defines them in
`pkg/epp/metrics/metrics.go` at tag v1.0.2: subsystem `inference_model` (per requested and target model),
`inference_pool` (per pool, label `name`) and `inference_extension` (the scheduler). Go's client exports counters
under their declared names (`request_total` already ends in `_total`).

What the picker sees is what makes the inference-aware listener (8081) better than the plain one: the pool's
ready pods, the average KV-cache use and queue depth it reads from the model servers, and how long it takes to
pick a pod. The gateway add-on's managed pickers are not scraped by this project (ACK documents no metrics
endpoint for them), so the row is empty there.
"""

from __future__ import annotations

MODEL = "model_name"
TARGET_MODEL = "target_model_name"
POOL = "name"
ERROR_CODE = "error_code"

# Counters, labelled model_name and target_model_name (plus error_code).
REQUESTS = "inference_model_request_total"
REQUEST_ERRORS = "inference_model_request_error_total"
# Histogram, seconds, labelled model_name and target_model_name.
REQUEST_DURATION = "inference_model_request_duration_seconds"
# Gauges, labelled `name` (the InferencePool).
POOL_READY_PODS = "inference_pool_ready_pods"
POOL_KV_CACHE = "inference_pool_average_kv_cache_utilization"
POOL_QUEUE = "inference_pool_average_queue_size"
# Histogram, seconds, no labels: the scheduler's end-to-end time to pick a pod.
SCHEDULING = "inference_extension_scheduler_e2e_duration_seconds"

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
NAMES = (
    REQUESTS,
    REQUEST_ERRORS,
    POOL_READY_PODS,
    POOL_KV_CACHE,
    POOL_QUEUE,
    *(REQUEST_DURATION + s for s in HISTOGRAM_SUFFIXES),
    *(SCHEDULING + s for s in HISTOGRAM_SUFFIXES),
)
