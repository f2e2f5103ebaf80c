"""Observability settings: the dashboard, the alert rules and their thresholds, and which Prometheus scrapes.

Three monitoring modes: managed Prometheus (ARMS, the cluster add-on `addons.armsPrometheus`), which reads the
model servers' `prometheus.io/*` annotations; self-managed monitoring (the kube-prometheus-stack Helm chart,
`selfManaged`); or a Prometheus Operator the cluster already runs (`prometheusOperator`), which ignores the
annotations and is given PodMonitors and ServiceMonitors instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field

from components.constants import PRESET_NAMESPACES
from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel
from stacks.settings.formats import DNS_LABEL

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

_DURATION = r"^[1-9][0-9]*(s|m)$"
_WEBHOOK_URL = re.compile(r"https?://[^\s/]+\S*")


class DashboardSettings(ConfigModel):
    enabled: bool = Field(
        True,
        description="Deliver the vLLM dashboard as a ConfigMap labelled for the Grafana sidecar (the same JSON as "
        "`dashboards/vllm-inference.json`, which you can also import by hand).",
    )


class AlertSettings(ConfigModel):
    enabled: bool | None = Field(
        None,
        description="Create the PrometheusRule with the vLLM alerts. Default: on when the stack installs what "
        "serves the `monitoring.coreos.com` CRDs (`selfManaged.enabled`, or the ARMS add-on). Set `true` when your "
        "cluster already runs the Prometheus Operator.",
    )
    ttft_p95_seconds: float = Field(
        3.0, gt=0, le=600, description="SLO: alert when a model's 95th percentile time to first token is above this."
    )
    kv_cache_usage: float = Field(
        0.9, gt=0, le=1, description="Alert when a pod's KV-cache use (0-1) stays above this fraction."
    )
    waiting_requests: int = Field(
        10, ge=1, le=100000, description="Alert when a pod keeps more than this many requests waiting for a slot."
    )
    preemptions_per_second: float = Field(
        1.0, gt=0, le=10000, description="Alert when a pod preempts more requests per second than this (KV pressure)."
    )
    failed_request_ratio: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Alert when more than this share of a model's finished requests ended aborted or in error.",
    )


class SelfManagedSettings(ConfigModel):
    enabled: bool = Field(
        False,
        description="Install kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana) for "
        "clusters without ARMS. Its Prometheus scrapes pods by their `prometheus.io/*` annotations and its "
        "Grafana loads dashboards from labelled ConfigMaps.",
    )
    namespace: str = Field("monitoring", pattern=DNS_LABEL, description="Namespace of the monitoring stack.")
    chart_version: str = Field(
        "67.8.0", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$", description="Pinned kube-prometheus-stack chart version."
    )
    chart_repository: str = Field(
        "https://prometheus-community.github.io/helm-charts",
        pattern=r"^https?://\S+$",
        description="Helm repository of the chart (a mirror, where the public one is unreachable).",
    )
    image_registry: str | None = Field(
        None,
        pattern=r"^[a-z0-9][-a-z0-9.:/]*$",
        description="Registry to pull the chart's images from instead of quay.io, docker.io and registry.k8s.io "
        "(same repository paths, e.g. `<registry>/prometheus/prometheus`); default: the public registries.",
    )
    scrape_interval: str = Field(
        "15s", pattern=_DURATION, description="How often Prometheus scrapes each target (e.g. `15s`, `1m`)."
    )


class PrometheusOperatorSettings(ConfigModel):
    enabled: bool = Field(
        False,
        description="Your cluster already runs the Prometheus Operator (e.g. your own kube-prometheus-stack): "
        "render a PodMonitor per model server and a ServiceMonitor per self-hosted endpoint picker (the Operator "
        "ignores `prometheus.io/*` annotations), and the PrometheusRule.",
    )
    namespace: str = Field(
        "monitoring",
        pattern=DNS_LABEL,
        description="Namespace of the Operator's Prometheus pods: the model servers' NetworkPolicy admits their "
        "scrapes from there.",
    )
    labels: dict[str, str] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        max_length=16,
        description="Labels on the PrometheusRule, PodMonitors and ServiceMonitors: what your Prometheus' "
        "`ruleSelector`, `podMonitorSelector` and `serviceMonitorSelector` match (a stock kube-prometheus-stack "
        "selects `release: <its Helm release name>`).",
    )


class ObservabilitySettings(ConfigModel):
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings, description="The Grafana dashboard.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert rules and their thresholds.")
    self_managed: SelfManagedSettings = Field(
        default_factory=SelfManagedSettings, description="Self-managed Prometheus and Grafana."
    )
    prometheus_operator: PrometheusOperatorSettings = Field(
        default_factory=PrometheusOperatorSettings, description="A Prometheus Operator the cluster already runs."
    )
    arms_inference_labels: bool | None = Field(
        None,
        description="Label model-server pods for ARMS LLM-inference monitoring (`alibabacloud.com/inference-"
        "workload`, `alibabacloud.com/inference-backend: vllm`). Default: on when `addons.armsPrometheus.enabled`.",
    )


def monitor_crds_used(settings: StackSettings) -> bool:
    """Whether a Prometheus Operator reads PodMonitors and ServiceMonitors (self-managed, or the cluster's own)."""
    observability = settings.observability
    return observability.self_managed.enabled or observability.prometheus_operator.enabled


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    observability = settings.observability
    webhook = settings.alert_webhook_url
    # Alertmanager refuses a webhook receiver whose `url` is not an absolute URL (config.SecretURL); the value is
    # a secret, so the message never repeats it.
    if webhook is not None and not _WEBHOOK_URL.fullmatch(webhook.get_secret_value()):
        yield ConfigProblem(("alertWebhookUrl",), "must be an http:// or https:// URL")
    if webhook is not None and not observability.self_managed.enabled:
        yield ConfigProblem(
            ("alertWebhookUrl",),
            "configures the self-managed Alertmanager, which `observability.selfManaged.enabled` installs; with "
            "ARMS or your own Prometheus Operator, configure alert delivery there",
        )
    if observability.self_managed.enabled and observability.prometheus_operator.enabled:
        # Two Operators would each run their own Prometheus and scrape (and alert on) every model server twice.
        yield ConfigProblem(
            ("observability", "prometheusOperator", "enabled"),
            "`selfManaged.enabled` already installs a Prometheus Operator; enable one of the two",
        )
    self_managed = observability.self_managed
    if not self_managed.enabled:
        return
    loc = ("observability", "selfManaged", "namespace")
    # The monitoring stack creates its namespace: one every cluster has fails with AlreadyExists at `pulumi up`.
    if self_managed.namespace in PRESET_NAMESPACES:
        yield ConfigProblem(
            loc,
            f"`{self_managed.namespace}` already exists in every cluster and the monitoring stack creates its "
            f"namespace; pick another (not {', '.join(PRESET_NAMESPACES)})",
        )
    elif self_managed.namespace == settings.gateway.namespace:
        # Both layers would create a Namespace of that name: the second fails with AlreadyExists.
        yield ConfigProblem(loc, "is also `gateway.namespace`; both create their namespace, so they must differ")
