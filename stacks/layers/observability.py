"""Builds the observability layer: the vLLM dashboard, the alert rules and, optionally, self-managed monitoring.

The dashboard ConfigMap and the PrometheusRule live beside the model servers (Grafana's sidecar and the
Prometheus Operator of the self-managed stack look in every namespace). The rule needs the
`monitoring.coreos.com` CRDs, so by default it is rendered only when the stack installs what serves them: the
self-managed Helm release, or the ARMS add-on (`cloud.monitoring_installers`); `observability.alerts.enabled`
overrides that for clusters that already run the Prometheus Operator.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.inference.model_server import METRICS_PATH
from components.observability.alert_rules import AlertRules, AlertRulesArgs, AlertThresholds, ModelServerTarget
from components.observability.grafana_dashboard import GrafanaDashboard, GrafanaDashboardArgs, Reader
from components.observability.monitoring_stack import GRAFANA_SERVICE_ACCOUNT, MonitoringStack, MonitoringStackArgs
from dashboards.vllm_inference import DASHBOARD_FILE, render
from stacks.layers import CloudLayer, InferenceLayer, ObservabilityLayer
from stacks.settings import StackSettings
from stacks.settings.models import ModelSettings

DASHBOARD_NAME = "vllm-dashboard"
ALERT_RULES_NAME = "vllm-alerts"
# ARMS' LLM-inference monitoring collects pods that carry these labels.
ARMS_WORKLOAD_LABEL = "alibabacloud.com/inference-workload"
ARMS_BACKEND_LABEL = "alibabacloud.com/inference-backend"


def model_server_pod_labels(settings: StackSettings, model: ModelSettings) -> dict[str, str]:
    """Extra pod labels for a model server: the ARMS LLM-inference labels when that integration is on."""
    enabled = settings.observability.arms_inference_labels
    if enabled is None:
        enabled = settings.addons.arms_prometheus.enabled
    return {ARMS_WORKLOAD_LABEL: model.name, ARMS_BACKEND_LABEL: "vllm"} if enabled else {}


def build_observability(settings: StackSettings, cloud: CloudLayer, inference: InferenceLayer) -> ObservabilityLayer:
    observability = settings.observability
    self_managed = observability.self_managed
    # Objects in the model servers' namespace wait for whatever created it.
    namespace_ready: list[pulumi.Resource] = [r for server in inference.model_servers for r in server.resources]
    crd_installers: list[pulumi.Resource] = list(cloud.monitoring_installers)

    monitoring = None
    if self_managed.enabled:
        monitoring = MonitoringStack(
            "monitoring",
            MonitoringStackArgs(
                namespace=self_managed.namespace,
                chart_version=self_managed.chart_version,
                chart_repository=self_managed.chart_repository,
                scrape_interval=self_managed.scrape_interval,
                image_registry=self_managed.image_registry,
                dashboard_namespaces=[inference.namespace] if observability.dashboard.enabled else [],
                provider=cloud.provider,
            ),
        )
        crd_installers.append(monitoring.release)

    dashboard = None
    if observability.dashboard.enabled:
        dashboard = GrafanaDashboard(
            DASHBOARD_NAME,
            GrafanaDashboardArgs(
                namespace=inference.namespace,
                file_name=DASHBOARD_FILE.name,
                dashboard_json=render(),
                provider=cloud.provider,
                reader=Reader(namespace=self_managed.namespace, service_account=GRAFANA_SERVICE_ACCOUNT)
                if self_managed.enabled
                else None,
                depends_on=namespace_ready,
            ),
        )

    alerts = observability.alerts
    rules = None
    if crd_installers if alerts.enabled is None else alerts.enabled:
        rules = AlertRules(
            ALERT_RULES_NAME,
            AlertRulesArgs(
                namespace=inference.namespace,
                thresholds=AlertThresholds(**alerts.model_dump(exclude={"enabled"})),
                model_servers=[ModelServerTarget(s.name, s.namespace) for s in inference.model_servers],
                provider=cloud.provider,
                depends_on=[*crd_installers, *namespace_ready],
            ),
        )

    return ObservabilityLayer(outputs=_outputs(inference, monitoring, dashboard, rules))


def _outputs(
    inference: InferenceLayer,
    monitoring: MonitoringStack | None,
    dashboard: GrafanaDashboard | None,
    rules: AlertRules | None,
) -> dict[str, Any]:
    grafana: dict[str, str] = {"file": f"dashboards/{DASHBOARD_FILE.name}"}
    if dashboard:
        grafana["configMap"] = dashboard.config_map
    if monitoring:
        grafana |= {"grafana": monitoring.grafana, "grafanaPassword": monitoring.grafana_password}
    else:
        grafana["grafana"] = "import the file into your Grafana (ARMS: Managed Grafana, Dashboards > Import)"
    return {
        "dashboard": grafana,
        "metrics": {
            "modelServers": [
                f"{server.namespace}/{server.name}: pod port {server.port}, path {METRICS_PATH}"
                for server in inference.model_servers
            ],
            "prometheus": monitoring.prometheus if monitoring else "ARMS console > Prometheus monitoring, or your own",
        },
        "alertRules": rules.prometheus_rule
        if rules
        else "none: nothing serves the monitoring.coreos.com CRDs (enable observability.selfManaged or "
        "addons.armsPrometheus, or set observability.alerts.enabled for your own Prometheus Operator)",
    }
