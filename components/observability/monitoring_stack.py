"""Self-managed monitoring for clusters without ARMS: the kube-prometheus-stack Helm chart.

The chart brings the Prometheus Operator (and so the `monitoring.coreos.com` CRDs the alert rules need),
Prometheus, Alertmanager and Grafana. Two additions make it serve this project:

- a scrape job that honours the `prometheus.io/scrape|port|path` pod annotations (the Operator ignores them
  otherwise), labelling each target with `namespace` and `pod` as the dashboard and the alerts expect, and a
  job for the Gateway's Envoy proxies (so the dashboard can compare the 8080 and 8081 listeners);
- Grafana's dashboard sidecar watching ConfigMaps with the dashboard label in the release's namespace and the
  namespaces that hold our dashboards only (with a namespaced Role, not a cluster-wide one that reads every
  Secret), and Prometheus selecting every PrometheusRule, not only those labelled with the release.
"""

from __future__ import annotations

import secrets
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from components.observability.grafana_dashboard import SIDECAR_LABEL
from metrics import envoy
from metrics.vllm import NAMESPACE, POD

CHART = "kube-prometheus-stack"
# The release name contains the chart name, so the chart names its objects `<release>-<component>`.
RELEASE = "kube-prometheus-stack"
GRAFANA_SERVICE = f"{RELEASE}-grafana"
# The Grafana subchart's service account (its fullname), which a dashboard namespace grants ConfigMap reads to.
GRAFANA_SERVICE_ACCOUNT = f"{RELEASE}-grafana"
PROMETHEUS_SERVICE = f"{RELEASE}-prometheus"
ANNOTATION_JOB = "kubernetes-pods"
ENVOY_JOB = "envoy-gateway-proxies"
GRAFANA_ADMIN_SECRET = f"{RELEASE}-grafana-admin"
RELEASE_TIMEOUT_SECONDS = 900
WEBHOOK_RECEIVER = "ack-inference-webhook"


def _target_labels() -> list[dict[str, Any]]:
    return [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": NAMESPACE},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": POD},
    ]


def annotation_scrape_job() -> dict[str, Any]:
    """Pods that opt in with `prometheus.io/scrape: "true"`, at the annotated port and path."""
    return {
        "job_name": ANNOTATION_JOB,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                "regex": "true",
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_phase"],
                "regex": "Pending|Succeeded|Failed",
                "action": "drop",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scheme"],
                "regex": "(https?)",
                "target_label": "__scheme__",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
                "regex": "(.+)",
                "target_label": "__metrics_path__",
            },
            {
                "source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                "regex": "([^:]+)(?::[0-9]+)?;([0-9]+)",
                "replacement": "$1:$2",
                "target_label": "__address__",
            },
            {"regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"},
            *_target_labels(),
        ],
    }


def envoy_scrape_job() -> dict[str, Any]:
    """The Gateway's Envoy proxies at their stats port, unless their pods already opt in by annotation."""
    keep_proxy_pods = [
        {
            "source_labels": [f"__meta_kubernetes_pod_label_{_label_name(key)}"],
            "regex": value,
            "action": "keep",
        }
        for key, value in envoy.PROXY_POD_LABELS.items()
    ]
    return {
        "job_name": ENVOY_JOB,
        "metrics_path": envoy.STATS_PATH,
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            *keep_proxy_pods,
            {
                "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                "regex": "true",
                "action": "drop",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_container_port_number"],
                "regex": str(envoy.STATS_PORT),
                "action": "keep",
            },
            *_target_labels(),
        ],
    }


def _label_name(key: str) -> str:
    """How Prometheus' Kubernetes discovery spells a pod label in a meta label."""
    return "".join(char if char.isalnum() else "_" for char in key)


def alertmanager_values(webhook_url: pulumi.Input[str]) -> dict[str, Any]:
    """Routes every alert to one webhook receiver. Helm merges these maps into the chart's default
    `alertmanager.config` (lists are replaced): its grouping, inhibition rules and the route that sends the
    always-firing `Watchdog` to `null` stay; only the default receiver, `null` in the chart, changes."""
    return {
        "config": {
            "route": {"receiver": WEBHOOK_RECEIVER},
            "receivers": [
                {"name": "null"},
                {"name": WEBHOOK_RECEIVER, "webhook_configs": [{"url": webhook_url, "send_resolved": True}]},
            ],
        }
    }


def helm_values(
    scrape_interval: str,
    image_registry: str | None,
    grafana_admin_secret: str,
    dashboard_namespaces: list[str],
    alert_webhook_url: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """`dashboard_namespaces`: where the sidecar looks for dashboards, the release's own namespace first (the
    chart's dashboards); the stack grants the Grafana service account ConfigMap reads in the others."""
    label, value = SIDECAR_LABEL
    values: dict[str, Any] = {
        "prometheus": {
            "prometheusSpec": {
                "scrapeInterval": scrape_interval,
                "additionalScrapeConfigs": [annotation_scrape_job(), envoy_scrape_job()],
                "ruleSelectorNilUsesHelmValues": False,
                # The self-hosted endpoint pickers' ServiceMonitors carry no release label.
                "serviceMonitorSelectorNilUsesHelmValues": False,
            }
        },
        "grafana": {
            "admin": {"existingSecret": grafana_admin_secret, "userKey": "admin-user", "passwordKey": "admin-password"},
            # Grafana chart 8.x (kube-prometheus-stack 67.x): `rbac.namespaced` makes a Role in the release's
            # namespace instead of a ClusterRole on every ConfigMap and Secret; the sidecar joins
            # `searchNamespace` with commas and, with `resource: configmap`, never lists Secrets.
            "rbac": {"namespaced": True},
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": label,
                    "labelValue": value,
                    "searchNamespace": dashboard_namespaces,
                    "resource": "configmap",
                }
            },
        },
    }
    if alert_webhook_url is not None:
        values["alertmanager"] = alertmanager_values(alert_webhook_url)
    if image_registry:
        values["global"] = {"imageRegistry": image_registry}
    return values


class MonitoringStackArgs(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    namespace: str
    chart_version: str
    chart_repository: str
    scrape_interval: str
    image_registry: str | None = None
    # Where Alertmanager sends alerts (a secret Output); None leaves the chart's `null` receiver.
    alert_webhook_url: Any = None
    # Namespaces besides its own that hold dashboard ConfigMaps for Grafana's sidecar.
    dashboard_namespaces: list[str] = []
    provider: k8s.Provider


class MonitoringStack(pulumi.ComponentResource):
    # The Helm release: what serves the monitoring.coreos.com CRDs.
    release: k8s.helm.v3.Release
    # Commands that reach Grafana, read its admin password and reach Prometheus.
    grafana: str
    grafana_password: str
    prometheus: str

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:observability:MonitoringStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": {"app.kubernetes.io/part-of": "ack-inference"}},
            opts=child,
        )
        # Generated once: later runs draw another password but ignore it, so the first one stays (the chart's
        # default would be the public `prom-operator`).
        grafana_admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": namespace.metadata["name"]},
            string_data={"admin-user": "admin", "admin-password": pulumi.Output.secret(secrets.token_urlsafe(24))},
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["stringData"])),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE,
            chart=CHART,
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=args.chart_repository),
            namespace=namespace.metadata["name"],
            values=helm_values(
                args.scrape_interval,
                args.image_registry,
                GRAFANA_ADMIN_SECRET,
                list(dict.fromkeys([args.namespace, *args.dashboard_namespaces])),
                args.alert_webhook_url,
            ),
            # Helm's default 5 minutes is short for first pulls of the chart's images from public registries.
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[grafana_admin])),
        )
        self.grafana = f"kubectl -n {args.namespace} port-forward svc/{GRAFANA_SERVICE} 3000:80"
        self.prometheus = f"kubectl -n {args.namespace} port-forward svc/{PROMETHEUS_SERVICE} 9090:9090"
        self.grafana_password = (
            f"kubectl -n {args.namespace} get secret {GRAFANA_ADMIN_SECRET} -o jsonpath='{{.data.admin-password}}' "
            "| base64 -d"
        )
        self.register_outputs(
            {
                "release": self.release,
                "grafana": self.grafana,
                "grafanaPassword": self.grafana_password,
                "prometheus": self.prometheus,
            }
        )
