"""vLLM alert rules as a Prometheus Operator `PrometheusRule`, built from the version-robust metric catalogue.

Serving alerts (latency SLO, KV cache, queue, preemptions, failed requests) read vLLM's own metrics, so they hold
on every vLLM release from 0.6.6 to 0.33.0. Availability alerts read Prometheus' `up` for the model servers'
pods, which the scrape job labels with `namespace` and `pod`, but only for pods that should be serving: ready, or
started longer ago than the server's startup budget (image pull plus model load). A pod still loading its weights
is scraped and reports `up == 0` for up to that budget; that is not an outage. Whether a pod is ready and when it
started comes from kube-state-metrics, which kube-prometheus-stack ships and scrapes; where it is missing the
availability alerts stay silent rather than guess (there is no `absent()`: a Prometheus that scrapes nothing, or
a cluster whose servers are scaled to zero, is not paged forever).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from metrics import vllm
from metrics.vllm import MODEL, NAMESPACE, POD, Scope

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PrometheusRule"
RATE_WINDOW = "5m"
SCRAPE_HEALTH = "up"
# kube-state-metrics' pod series (docs/metrics/workload/pod-metrics.md of kube-state-metrics): readiness per
# `condition` (true/false/unknown), and the pod's start time in Unix seconds; both labelled `namespace`, `pod`.
KUBE_POD_READY = "kube_pod_status_ready"
KUBE_POD_START_TIME = "kube_pod_start_time"


class AlertThresholds(BaseModel):
    model_config = ConfigDict(frozen=True)

    ttft_p95_seconds: float
    kv_cache_usage: float
    waiting_requests: int
    preemptions_per_second: float
    failed_request_ratio: float


@dataclass(frozen=True)
class ModelServerTarget:
    """A model server's workload; its pods are named `<name>-<pod-template-hash>-<suffix>` (a Deployment)."""

    name: str
    namespace: str
    # How long a new pod may take to serve (image pull plus model load).
    startup_budget_seconds: int

    @property
    def pod_pattern(self) -> str:
        return f"{self.name}-[a-z0-9]+-[a-z0-9]+"

    @property
    def pods(self) -> str:
        return f'{NAMESPACE}="{self.namespace}", {POD}=~"{self.pod_pattern}"'

    @property
    def up(self) -> str:
        return f"{SCRAPE_HEALTH}{{{self.pods}}}"

    @property
    def should_serve(self) -> str:
        """The server's pods that are ready, or that started longer ago than the startup budget."""
        ready = f'{KUBE_POD_READY}{{{self.pods}, condition="true"}} == 1'
        overdue = f"(time() - {KUBE_POD_START_TIME}{{{self.pods}}}) > {self.startup_budget_seconds}"
        return f"({ready}) or on ({NAMESPACE}, {POD}) ({overdue})"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    duration: str
    severity: str
    summary: str
    description: str
    labels: tuple[tuple[str, str], ...] = ()

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity, **dict(self.labels)},
            "annotations": {"summary": self.summary, "description": self.description},
        }


def namespace_matcher(namespaces: Sequence[str]) -> str:
    names = sorted(set(namespaces))
    return f'{NAMESPACE}="{names[0]}"' if len(names) == 1 else f'{NAMESPACE}=~"{"|".join(names)}"'


def serving_alerts(thresholds: AlertThresholds, namespaces: Sequence[str]) -> list[Alert]:
    matcher = namespace_matcher(namespaces)
    per_model = Scope(by=(MODEL,), matchers=matcher, window=RATE_WINDOW)
    per_pod = Scope(by=(NAMESPACE, POD, MODEL), matchers=matcher, window=RATE_WINDOW)
    model = "{{ $labels.model_name }}"
    pod = "{{ $labels.namespace }}/{{ $labels.pod }}"
    t = thresholds
    return [
        Alert(
            "VllmTimeToFirstTokenHigh",
            f"{vllm.quantile(0.95, vllm.TIME_TO_FIRST_TOKEN, per_model)} > {t.ttft_p95_seconds}",
            "10m",
            "warning",
            f"{model}: p95 time to first token above the {t.ttft_p95_seconds:g}s SLO",
            f"p95 time to first token of {model} is {{{{ $value | humanizeDuration }}}} over 5m.",
        ),
        Alert(
            "VllmKvCacheNearlyFull",
            f"{vllm.gauge(vllm.KV_CACHE_USAGE, 'max', per_pod)} > {t.kv_cache_usage}",
            "10m",
            "warning",
            f"{pod}: KV cache nearly full",
            f"KV-cache use of {model} on {pod} is {{{{ $value | humanizePercentage }}}}; requests will queue "
            "and be preempted.",
        ),
        Alert(
            "VllmWaitingQueueDeep",
            f"{vllm.gauge(vllm.REQUESTS_WAITING, 'sum', per_pod)} > {t.waiting_requests}",
            "5m",
            "warning",
            f"{pod}: requests waiting for a slot",
            f"{{{{ $value | humanize }}}} requests of {model} are waiting on {pod}.",
        ),
        Alert(
            "VllmPreemptionRateHigh",
            f"{vllm.rate(vllm.PREEMPTIONS, per_pod)} > {t.preemptions_per_second}",
            "10m",
            "warning",
            f"{pod}: requests preempted for lack of KV cache",
            f"{model} on {pod} preempts {{{{ $value | humanize }}}} requests per second.",
        ),
        Alert(
            "VllmRequestsFailing",
            f"{vllm.failed_ratio(per_model)} > {t.failed_request_ratio}",
            "10m",
            "warning",
            f"{model}: requests ending aborted or in error",
            f"{{{{ $value | humanizePercentage }}}} of the finished requests of {model} were aborted or failed "
            "over 5m.",
        ),
    ]


def availability_alerts(servers: Sequence[ModelServerTarget]) -> list[Alert]:
    alerts = []
    for server in servers:
        labels = ((NAMESPACE, server.namespace), ("model_server", server.name))
        alerts += [
            Alert(
                "VllmModelServerTargetDown",
                f"({server.up} == 0) and on ({NAMESPACE}, {POD}) ({server.should_serve})",
                "5m",
                "warning",
                f"{server.namespace}/{server.name}: a model-server pod cannot be scraped",
                "Prometheus cannot read /metrics of {{ $labels.namespace }}/{{ $labels.pod }}, which is ready or "
                f"past its {server.startup_budget_seconds // 60}-minute startup budget.",
                labels,
            ),
            Alert(
                "VllmModelServerUnavailable",
                f"count by ({NAMESPACE}) ({server.should_serve}) unless on ({NAMESPACE}) ({server.up} == 1)",
                "5m",
                "critical",
                f"{server.namespace}/{server.name}: no model-server pod is up",
                f"{{{{ $value }}}} pods of {server.name} should be serving (ready or past the "
                f"{server.startup_budget_seconds // 60}-minute startup budget) and none answers on /metrics: the "
                "model is not being served.",
                labels,
            ),
        ]
    return alerts


def rule_groups(thresholds: AlertThresholds, servers: Sequence[ModelServerTarget]) -> list[dict[str, Any]]:
    namespaces = [server.namespace for server in servers]
    return [
        {"name": "vllm-serving", "rules": [alert.rule() for alert in serving_alerts(thresholds, namespaces)]},
        {"name": "vllm-availability", "rules": [alert.rule() for alert in availability_alerts(servers)]},
    ]


def prometheus_rule(
    name: str, namespace: str, groups: list[dict[str, Any]], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """`labels` are what the Operator's `ruleSelector` matches (a stock kube-prometheus-stack: `release`)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "ack-inference", **(labels or {})},
        },
        "spec": {"groups": groups},
    }


class AlertRulesArgs(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    namespace: str
    thresholds: AlertThresholds
    model_servers: list[ModelServerTarget]
    # Labels the Prometheus Operator's `ruleSelector` matches.
    labels: dict[str, str] = {}
    provider: k8s.Provider
    # What serves the monitoring.coreos.com CRDs (the self-managed Helm release or the ARMS add-on), and the
    # namespace's creator.
    depends_on: list[pulumi.Resource] = []


class AlertRules(pulumi.ComponentResource):
    # The PrometheusRule as `<namespace>/<name>`.
    prometheus_rule: str

    def __init__(self, name: str, args: AlertRulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:observability:AlertRules", name, None, opts)
        body = prometheus_rule(name, args.namespace, rule_groups(args.thresholds, args.model_servers), args.labels)
        k8s.apiextensions.CustomResource(
            f"{name}-rule",
            api_version=body["apiVersion"],
            kind=body["kind"],
            metadata=body["metadata"],
            spec=body["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.depends_on),
        )
        self.prometheus_rule = f"{args.namespace}/{name}"
        self.register_outputs({"prometheusRule": self.prometheus_rule})
