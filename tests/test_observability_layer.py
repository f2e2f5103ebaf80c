"""The observability layer under the provider mocks: what it registers for each configuration, how the pieces
depend on each other, the self-managed stack's Helm values, and the settings."""

from __future__ import annotations

import json

import pytest
import yaml

from components.observability.grafana_dashboard import SIDECAR_LABEL
from components.observability.monitoring_stack import CHART, annotation_scrape_job, envoy_scrape_job
from dashboards.vllm_inference import DASHBOARD_FILE
from metrics import envoy as envoy_metrics
from stacks.config_loader import parse_settings
from stacks.errors import ConfigError
from stacks.layers.observability import model_server_pod_labels
from tests.harness import stack_config
from tests.promtool.scrape import discovered, relabel
from tests.promtool.stack import NAMESPACE, SERVERS, observe
from tests.promtool.support import run_promtool, write_yaml
from tests.schemas import metadata_errors, validate_core
from tooling.offline.recording import SECRET

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
RELEASE = "kubernetes:helm.sh/v3:Release"
ADDON = "alicloud:cs/kubernetesAddon:KubernetesAddon"

DEFAULT = observe()
SELF_MANAGED = observe({"selfManaged": {"enabled": True}})
ARMS = observe(arms=True)


def test_by_default_only_the_dashboard_is_delivered():
    """No ARMS, no self-managed stack: nothing serves the PrometheusRule CRD, so no rule is rendered."""
    assert DEFAULT.of_type(RULE) == []
    assert DEFAULT.of_type(RELEASE) == []
    config_map = DEFAULT.one(CONFIG_MAP, "vllm-dashboard-config-map")
    assert DEFAULT.outputs["alertRules"].startswith("none: ")
    assert DEFAULT.outputs["dashboard"]["configMap"] == f"{NAMESPACE}/{config_map.inputs['metadata']['name']}"


def test_the_dashboard_config_map_carries_the_committed_dashboard_and_the_sidecar_label():
    config_map = DEFAULT.one(CONFIG_MAP, "vllm-dashboard-config-map")
    label, value = SIDECAR_LABEL
    assert config_map.inputs["metadata"]["labels"][label] == value
    assert config_map.inputs["metadata"]["namespace"] == NAMESPACE
    assert config_map.inputs["data"] == {DASHBOARD_FILE.name: DASHBOARD_FILE.read_text()}
    assert validate_core(config_map.inputs | {"apiVersion": "v1", "kind": "ConfigMap"}) == []


def test_the_dashboard_waits_for_the_model_servers_namespace():
    config_map = DEFAULT.one(CONFIG_MAP, "vllm-dashboard-config-map")
    for server in SERVERS:
        assert DEFAULT.depends_on(config_map, DEFAULT.one("kubernetes:apps/v1:Deployment", server))


def test_the_arms_add_on_serves_the_rule():
    rule = ARMS.one(RULE)
    assert ARMS.depends_on(rule, ARMS.one(ADDON, "arms-prometheus"))
    assert ARMS.of_type(RELEASE) == []
    assert ARMS.outputs["alertRules"] == f"{NAMESPACE}/{rule.inputs['metadata']['name']}"


def test_the_self_managed_release_serves_the_rule():
    rule = SELF_MANAGED.one(RULE)
    assert SELF_MANAGED.depends_on(rule, SELF_MANAGED.one(RELEASE))
    assert rule.inputs["metadata"]["namespace"] == NAMESPACE
    assert metadata_errors(rule.inputs) == []
    servers = {r["labels"].get("model_server") for g in rule.inputs["spec"]["groups"] for r in g["rules"]}
    assert servers - {None} == set(SERVERS)


@pytest.mark.parametrize(
    ("observability", "arms", "rendered"),
    [
        ({"alerts": {"enabled": False}}, True, False),
        ({"alerts": {"enabled": False}, "selfManaged": {"enabled": True}}, False, False),
        # A cluster that already runs the Prometheus Operator.
        ({"alerts": {"enabled": True}}, False, True),
    ],
)
def test_alerts_enabled_overrides_the_default(observability, arms, rendered):
    plan = observe(observability, arms=arms)
    assert len(plan.of_type(RULE)) == int(rendered)


def test_dashboard_can_be_turned_off():
    plan = observe({"dashboard": {"enabled": False}}, arms=True)
    assert plan.of_type(CONFIG_MAP) == []
    assert "configMap" not in plan.outputs["dashboard"]
    assert plan.outputs["dashboard"]["file"] == "dashboards/vllm-inference.json"


@pytest.mark.parametrize("plan", [DEFAULT, SELF_MANAGED, ARMS], ids=["default", "self-managed", "arms"])
def test_every_resource_sits_in_a_component_and_uses_the_explicit_provider(plan):
    provider = plan.one("pulumi:providers:kubernetes", "kubernetes")
    components = {r.urn: r for r in plan.resources if r.type.startswith("ack-inference:observability:")}
    assert components
    for component in components.values():
        children = plan.children(component)
        assert children
        for child in children:
            assert child.name.startswith(f"{component.name}-"), child.name
            assert child.provider == provider.urn, child.name


def test_the_self_managed_stack_is_a_pinned_helm_release():
    release = SELF_MANAGED.one(RELEASE)
    settings = parse_settings(*stack_config("dev").project_values()).observability.self_managed
    assert release.inputs["chart"] == CHART
    assert release.inputs["version"] == settings.chart_version
    assert release.inputs["repositoryOpts"]["repo"] == settings.chart_repository
    namespace = SELF_MANAGED.one("kubernetes:core/v1:Namespace")
    assert release.inputs["namespace"] == namespace.inputs["metadata"]["name"] == settings.namespace
    assert SELF_MANAGED.depends_on(release, namespace)
    assert validate_core(namespace.inputs | {"apiVersion": "v1", "kind": "Namespace"}) == []


def test_grafana_loads_labelled_config_maps_from_the_dashboard_namespaces_only_and_prometheus_every_rule():
    values = SELF_MANAGED.one(RELEASE).inputs["values"]
    label, value = SIDECAR_LABEL
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    monitoring = SELF_MANAGED.one("kubernetes:core/v1:Namespace").inputs["metadata"]["name"]
    config_map = SELF_MANAGED.one("kubernetes:core/v1:ConfigMap", "vllm-dashboard-config-map").inputs["metadata"]
    assert sidecar == {
        "enabled": True,
        "label": label,
        "labelValue": value,
        "searchNamespace": [monitoring, config_map["namespace"]],
        "resource": "configmap",  # never Secrets
    }
    # No ClusterRole that reads every ConfigMap and Secret: a Role in the release namespace ...
    assert values["grafana"]["rbac"] == {"namespaced": True}
    assert values["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is False


def test_the_dashboard_namespace_lets_only_grafana_read_its_config_maps():
    # ... and one in the dashboard's namespace, bound to the Grafana chart's service account.
    role = SELF_MANAGED.one("kubernetes:rbac.authorization.k8s.io/v1:Role", "vllm-dashboard-reader-role").inputs
    binding = SELF_MANAGED.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").inputs
    config_map = SELF_MANAGED.one("kubernetes:core/v1:ConfigMap", "vllm-dashboard-config-map").inputs["metadata"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == config_map["namespace"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    monitoring = SELF_MANAGED.one("kubernetes:core/v1:Namespace").inputs["metadata"]["name"]
    # The chart names the service account after the release's Grafana (`<release>-grafana`).
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kube-prometheus-stack-grafana", "namespace": monitoring}
    ]
    for body in (role, binding):
        assert (
            validate_core(
                body | {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role" if body is role else "RoleBinding"}
            )
            == []
        )


def test_grafana_has_no_default_password():
    values = SELF_MANAGED.one(RELEASE).inputs["values"]
    secret = SELF_MANAGED.one("kubernetes:core/v1:Secret")
    admin = values["grafana"]["admin"]
    assert admin["existingSecret"] == secret.inputs["metadata"]["name"]
    # pulumi-kubernetes makes the whole of stringData a secret; the plan keeps its keys, never a value.
    assert secret.inputs["stringData"] == {"admin-user": SECRET, "admin-password": SECRET}
    assert (admin["userKey"], admin["passwordKey"]) == ("admin-user", "admin-password")
    # Generated once; later runs must not rotate it under Grafana.
    assert "stringData" in secret.ignore_changes
    assert SELF_MANAGED.depends_on(SELF_MANAGED.one(RELEASE), secret)
    assert "adminPassword" not in values["grafana"]
    assert SELF_MANAGED.outputs["dashboard"]["grafanaPassword"].startswith("kubectl")


STATIC_TARGET = {"static_configs": [{"targets": ["10.0.3.7:8000"]}]}


def test_promtool_accepts_the_scrape_jobs(tmp_path):
    jobs = SELF_MANAGED.one(RELEASE).inputs["values"]["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"]
    assert all(job["kubernetes_sd_configs"] == [{"role": "pod"}] for job in jobs)
    # Debian builds promtool without Kubernetes discovery; a static target stands in so the rest is checked.
    static = [{k: v for k, v in job.items() if k != "kubernetes_sd_configs"} | STATIC_TARGET for job in jobs]
    config = write_yaml(tmp_path / "prometheus.yml", {"scrape_configs": static})
    result = run_promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


SCRAPE_ME = {"prometheus.io/scrape": "true", "prometheus.io/port": "8000", "prometheus.io/path": "/metrics"}


def test_the_annotation_job_scrapes_annotated_pods_at_their_port_and_path():
    target = relabel(annotation_scrape_job(), discovered(SCRAPE_ME, {"app": "vllm"}, port=8000))
    assert target is not None
    assert target["__address__"] == "10.0.3.7:8000"
    assert target["__metrics_path__"] == "/metrics"
    assert target["namespace"] == NAMESPACE and target["pod"].startswith("vllm-llama2-7b-pool-")
    assert target["app"] == "vllm"
    # Another container port of the same pod is scraped at the annotated port all the same.
    other_port = relabel(annotation_scrape_job(), discovered(SCRAPE_ME, {}, port=9090))
    assert other_port is not None and other_port["__address__"] == "10.0.3.7:8000"
    custom_path = relabel(annotation_scrape_job(), discovered({**SCRAPE_ME, "prometheus.io/path": "/m"}, {}, 8000))
    assert custom_path is not None and custom_path["__metrics_path__"] == "/m"


def test_the_annotation_job_skips_pods_that_do_not_opt_in():
    assert relabel(annotation_scrape_job(), discovered({}, {"app": "vllm"}, port=8000)) is None
    assert relabel(annotation_scrape_job(), discovered({"prometheus.io/scrape": "false"}, {}, port=8000)) is None


def test_the_envoy_job_scrapes_gateway_proxies_at_their_stats_port():
    proxy = envoy_metrics.PROXY_POD_LABELS
    target = relabel(envoy_scrape_job(), discovered({}, proxy, port=envoy_metrics.STATS_PORT))
    assert target is not None
    assert target["__address__"] == f"10.0.3.7:{envoy_metrics.STATS_PORT}"
    assert target["__metrics_path__"] == envoy_metrics.STATS_PATH
    assert relabel(envoy_scrape_job(), discovered({}, proxy, port=10080)) is None
    assert relabel(envoy_scrape_job(), discovered({}, {"app": "vllm"}, port=envoy_metrics.STATS_PORT)) is None
    # Proxies that opt in by annotation are left to the annotation job, so they are not scraped twice.
    annotated = discovered({"prometheus.io/scrape": "true"}, proxy, port=envoy_metrics.STATS_PORT)
    assert relabel(envoy_scrape_job(), annotated) is None


def test_image_registry_mirror_reaches_every_image():
    plan = observe({"selfManaged": {"enabled": True, "imageRegistry": "registry.example.cn/mirror"}})
    assert plan.one(RELEASE).inputs["values"]["global"] == {"imageRegistry": "registry.example.cn/mirror"}
    assert "global" not in SELF_MANAGED.one(RELEASE).inputs["values"]


def test_outputs_say_where_the_dashboard_and_the_metrics_are():
    outputs = SELF_MANAGED.outputs
    assert outputs["dashboard"]["grafana"].startswith("kubectl -n monitoring port-forward svc/")
    assert outputs["metrics"]["prometheus"].startswith("kubectl -n monitoring port-forward svc/")
    assert outputs["metrics"]["modelServers"] == [
        f"{NAMESPACE}/{name}: pod port 8000, path /metrics" for name in SERVERS
    ]
    assert "ARMS" in ARMS.outputs["metrics"]["prometheus"]
    json.dumps(outputs)


def _settings(**overrides):
    values, secrets = stack_config("dev").project_values()
    document = {**{k: yaml.safe_load(v) if isinstance(v, str) else v for k, v in values.items()}, **overrides}
    return parse_settings({k: v if isinstance(v, str) else json.dumps(v) for k, v in document.items()}, secrets)


def test_arms_labels_follow_the_arms_add_on_unless_set():
    model = _settings().models[0]
    labels = {"alibabacloud.com/inference-workload": model.name, "alibabacloud.com/inference-backend": "vllm"}
    arms_on = {"armsPrometheus": {"name": "arms-prometheus", "enabled": True}}
    addons = _settings().addons.model_dump(by_alias=True, exclude_none=True)
    assert model_server_pod_labels(_settings(), model) == {}
    assert model_server_pod_labels(_settings(addons={**addons, **arms_on}), model) == labels
    assert model_server_pod_labels(_settings(observability={"armsInferenceLabels": True}), model) == labels
    forced_off = _settings(addons={**addons, **arms_on}, observability={"armsInferenceLabels": False})
    assert model_server_pod_labels(forced_off, model) == {}


@pytest.mark.parametrize(
    ("observability", "key"),
    [
        ({"alerts": {"kvCacheUsage": 1.5}}, ("observability", "alerts", "kvCacheUsage")),
        ({"alerts": {"ttftP95Seconds": 0}}, ("observability", "alerts", "ttftP95Seconds")),
        ({"selfManaged": {"scrapeInterval": "15"}}, ("observability", "selfManaged", "scrapeInterval")),
        ({"selfManaged": {"chartVersion": "latest"}}, ("observability", "selfManaged", "chartVersion")),
        ({"selfManaged": {"namespace": "Monitoring"}}, ("observability", "selfManaged", "namespace")),
    ],
)
def test_bad_observability_settings_are_config_errors_at_their_key(observability, key):
    with pytest.raises(ConfigError) as caught:
        _settings(observability=observability)
    assert [problem.loc for problem in caught.value.problems] == [key]
