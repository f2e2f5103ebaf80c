"""Observability layer components: alert rules, Grafana dashboard, self-managed monitoring."""
