"""Grafana dashboards, generated from the metric catalogues; the JSON files sit beside their generators."""
