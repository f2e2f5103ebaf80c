"""Observability settings: the dashboard, the alert rules and their thresholds, optional self-managed monitoring.

Scraping itself needs no setting: every model server carries the `prometheus.io/*` annotations. Managed
Prometheus (ARMS) is a cluster add-on (`addons.armsPrometheus`); self-managed monitoring is the
kube-prometheus-stack Helm chart, for clusters without ARMS.
"""

from __future__ import annotations

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


class ObservabilitySettings(ConfigModel):
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings, description="The Grafana dashboard.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert rules and their thresholds.")
    self_managed: SelfManagedSettings = Field(
        default_factory=SelfManagedSettings, description="Self-managed Prometheus and Grafana."
    )
    arms_inference_labels: bool | None = Field(
        None,
        description="Label model-server pods for ARMS LLM-inference monitoring (`alibabacloud.com/inference-"
        "workload`, `alibabacloud.com/inference-backend: vllm`). Default: on when `addons.armsPrometheus.enabled`.",
    )


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    self_managed = settings.observability.self_managed
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
