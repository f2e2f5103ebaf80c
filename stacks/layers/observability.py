"""Builds the observability layer: the vLLM dashboard, the alert rules, what the chosen Prometheus scrapes and,
optionally, self-managed monitoring.

The dashboard ConfigMap and the PrometheusRule live beside the model servers (Grafana's sidecar and the
Prometheus Operator of the self-managed stack look in every namespace). The rule needs the
`monitoring.coreos.com` CRDs, so by default it is rendered only where something serves them: the
self-managed Helm release, the ARMS add-on (`cloud.monitoring_installers`), or the cluster's own Prometheus
Operator (`observability.prometheusOperator`); `observability.alerts.enabled` overrides that.

Scraping: the self-managed Prometheus and ARMS read the model servers' `prometheus.io/*` annotations; a
Prometheus Operator of the cluster's own gets a PodMonitor per model server instead (rendering one for the
self-managed Prometheus too would scrape every pod twice). Self-hosted endpoint pickers get a ServiceMonitor
wherever an Operator reads them (self-managed or the cluster's own).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.inference import endpoint_picker
from components.inference.model_server import METRICS_PATH, PORT_NAME
from components.observability.alert_rules import AlertRules, AlertRulesArgs, AlertThresholds, ModelServerTarget
from components.observability.grafana_dashboard import GrafanaDashboard, GrafanaDashboardArgs, Reader
from components.observability.monitoring_stack import GRAFANA_SERVICE_ACCOUNT, MonitoringStack, MonitoringStackArgs
from components.observability.scrape_targets import ScrapedPods, ScrapedService, ScrapeTargets, ScrapeTargetsArgs
from dashboards.vllm_inference import DASHBOARD_FILE, render
from stacks.layers import CloudLayer, InferenceLayer, ObservabilityLayer
from stacks.settings import StackSettings
from stacks.settings.models import ModelSettings

DASHBOARD_NAME = "vllm-dashboard"
SCRAPE_TARGETS_NAME = "scrape-targets"
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
                alert_webhook_url=pulumi.Output.secret(settings.alert_webhook_url.get_secret_value())
                if settings.alert_webhook_url
                else None,
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

    operator = observability.prometheus_operator
    # Labels the Operator's rule and monitor selectors match; the self-managed one selects everything.
    selector_labels = operator.labels if operator.enabled else {}
    crds_served = bool(crd_installers) or operator.enabled

    scrape_targets = None
    pods = [] if self_managed.enabled else inference.model_servers
    if operator.enabled or self_managed.enabled:
        scraped_pods = [ScrapedPods(name=s.name, namespace=s.namespace, pod_labels=s.pod_labels,
                                    port_name=PORT_NAME, path=METRICS_PATH) for s in pods]  # fmt: skip
        scraped_services = [
            ScrapedService(
                name=p.name,
                namespace=p.namespace,
                service_labels=p.service_labels,
                port_name=endpoint_picker.METRICS_PORT_NAME,
                path=endpoint_picker.METRICS_PATH,
                token_secret=p.token_secret,
            )
            for p in inference.endpoint_pickers
        ]
        if scraped_pods or scraped_services:
            scrape_targets = ScrapeTargets(
                SCRAPE_TARGETS_NAME,
                ScrapeTargetsArgs(
                    pods=scraped_pods,
                    services=scraped_services,
                    labels=selector_labels,
                    depends_on=[
                        *crd_installers,
                        *namespace_ready,
                        *(r for p in inference.endpoint_pickers for r in p.resources),
                    ],
                ),
                pulumi.ResourceOptions(provider=cloud.provider),
            )

    alerts = observability.alerts
    rules = None
    if crds_served if alerts.enabled is None else alerts.enabled:
        rules = AlertRules(
            ALERT_RULES_NAME,
            AlertRulesArgs(
                namespace=inference.namespace,
                thresholds=AlertThresholds(**alerts.model_dump(exclude={"enabled"})),
                model_servers=[
                    ModelServerTarget(s.name, s.namespace, s.startup_budget_seconds) for s in inference.model_servers
                ],
                labels=selector_labels,
                provider=cloud.provider,
                depends_on=[*crd_installers, *namespace_ready],
            ),
        )

    if rules and monitoring and settings.alert_webhook_url is None:
        pulumi.log.warn(
            "observability: the alert rules are on but the self-managed Alertmanager has no receiver, so alerts "
            "reach no one; set one with `pulumi config set --secret ack-inference:alertWebhookUrl <url>`"
        )
    return ObservabilityLayer(outputs=_outputs(inference, monitoring, dashboard, rules, scrape_targets))


def _outputs(
    inference: InferenceLayer,
    monitoring: MonitoringStack | None,
    dashboard: GrafanaDashboard | None,
    rules: AlertRules | None,
    scrape_targets: ScrapeTargets | None,
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
            "monitors": scrape_targets.monitors if scrape_targets else [],
        },
        "alertRules": rules.prometheus_rule
        if rules
        else "none: nothing serves the monitoring.coreos.com CRDs (enable observability.selfManaged, "
        "addons.armsPrometheus or observability.prometheusOperator)",
    }
