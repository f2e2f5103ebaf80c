"""The upstream releases (folders of schemas/crds) whose CRDs the rendered objects are validated against."""

# ACK's gateway add-on line v1.3 ships Gateway API v1.2.1; v1.4.1 is the newest standard channel vendored.
GATEWAY_API = ("gateway-api-v1.2.1", "gateway-api-v1.4.1")
ENVOY_GATEWAY = ("envoy-gateway-v1.4.6", "envoy-gateway-v1.7.5")
# v0.79.2 is the operator of the pinned kube-prometheus-stack 67.x; v0.93.0 the newest vendored.
PROMETHEUS_OPERATOR = ("prometheus-operator-v0.79.2", "prometheus-operator-v0.93.0")
# The Inference Extension releases whose CRDs serve each API version (gie.md, section 1).
INFERENCE_EXTENSION = {
    "v1alpha1": ("gie-v0.1.0",),
    "v1alpha2": ("gie-v0.5.1", "gie-v1.0.0"),
    "v1": ("gie-v1.0.0", "gie-v1.5.0", "gie-v1.6.0"),
}
