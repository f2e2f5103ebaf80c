"""Shared checks for the observability tests: vLLM's metric lists per version, PromQL analysis, promtool."""
