"""Metric catalogues: the one place that knows metric names (vLLM per release, the gateway's Envoy)."""
