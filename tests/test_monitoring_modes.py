"""Each monitoring mode wired end to end, on the full program: what scrapes the model servers and the self-hosted
endpoint pickers, what the NetworkPolicies admit, and the labels the rules and monitors carry."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config_loader import parse_settings
from tests.harness import config_error, messages, plan_stack, stack_config
from tests.test_conformance import EVERYTHING, SECRETS
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks

OPERATOR = {"enabled": True, "namespace": "prom", "labels": {"release": "my-prometheus"}}


def objects(plan) -> list[dict[str, Any]]:
    return plan.kubernetes_objects()


def of_kind(plan, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects(plan) if o["kind"] == kind]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


# The gateway add-on's namespace (its proxies and managed pickers) is admitted in every mode.
GATEWAY_NAMESPACE = "envoy-gateway-system"


# How the Prometheus Operator labels the Prometheus pods it runs (v0.79.2 and v0.93.0 alike).
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "prometheus-operator",
                  "app.kubernetes.io/instance": "kube-prometheus-stack-prometheus", "prometheus": "x"}  # fmt: skip
GRAFANA_POD = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kube-prometheus-stack"}


def admitted(plan, namespace: str, pod_labels: dict[str, str]) -> bool:
    """Whether every model server's NetworkPolicy lets a pod with `pod_labels` in `namespace` in."""
    policies = of_kind(plan, "NetworkPolicy")
    assert policies
    for policy in policies:
        peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        if not any(
            peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == namespace
            and all(pod_labels.get(k) == v for k, v in peer.get("podSelector", {}).get("matchLabels", {}).items())
            for peer in peers
        ):
            return False
    return True


def admitted_namespaces(plan) -> set[str]:
    """Namespaces besides the gateway's from which some pods may reach the model servers."""
    found = set()
    for policy in of_kind(plan, "NetworkPolicy"):
        for rule in policy["spec"]["ingress"]:
            for peer in rule["from"]:
                names = peer.get("namespaceSelector", {}).get("matchLabels", {})
                if "kubernetes.io/metadata.name" in names:
                    found.add(names["kubernetes.io/metadata.name"])
    assert GATEWAY_NAMESPACE in found
    return found - {GATEWAY_NAMESPACE}


def operator_stack(extra: dict[str, Any] | None = None):
    observability = {"selfManaged": {"enabled": False}, "prometheusOperator": OPERATOR}
    return plan_stack("dev", {"observability": observability, **(extra or {})})


def test_an_existing_operator_gets_a_pod_monitor_per_model_server_matching_its_pods_and_port():
    plan = operator_stack()
    deployments = [d for d in of_kind(plan, "Deployment") if d["metadata"]["name"].startswith("vllm")]
    monitors = of_kind(plan, "PodMonitor")
    assert len(monitors) == len(deployments) >= 1
    for deployment in deployments:
        template = deployment["spec"]["template"]
        port_names = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        annotations = template["metadata"]["annotations"]
        (monitor,) = [
            m for m in monitors if selects(m["spec"]["selector"]["matchLabels"], template["metadata"]["labels"])
        ]
        assert monitor["metadata"]["namespace"] == deployment["metadata"]["namespace"]
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [deployment["metadata"]["namespace"]]}
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint["port"] in port_names
        # The same port and path the annotations announce to annotation-based scrapers.
        (container,) = template["spec"]["containers"]
        (port,) = [p for p in container["ports"] if p["name"] == endpoint["port"]]
        assert str(port["containerPort"]) == annotations["prometheus.io/port"]
        assert endpoint["path"] == annotations["prometheus.io/path"]
        assert monitor["metadata"]["labels"]["release"] == "my-prometheus"


def test_an_existing_operator_selects_the_rule_by_the_configured_labels_and_may_scrape():
    plan = operator_stack()
    (rule,) = of_kind(plan, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "my-prometheus"
    assert admitted_namespaces(plan) == {"prom"}
    # Its Prometheus pods, not everything else that runs beside them.
    assert admitted(plan, "prom", PROMETHEUS_POD)
    assert not admitted(plan, "prom", GRAFANA_POD)


def test_the_self_managed_prometheus_scrapes_by_annotation_only_so_no_pod_is_scraped_twice():
    plan = plan_stack("dev")
    assert of_kind(plan, "PodMonitor") == []
    assert admitted_namespaces(plan) == {"monitoring"}
    assert admitted(plan, "monitoring", PROMETHEUS_POD)
    assert not admitted(plan, "monitoring", GRAFANA_POD)
    (rule,) = of_kind(plan, "PrometheusRule")
    assert "release" not in rule["metadata"]["labels"]


def test_arms_admits_only_its_own_namespace_and_renders_no_monitors():
    plan = plan_stack(
        "dev",
        {
            "observability": {"selfManaged": {"enabled": False}},
            "addons": {"armsPrometheus": {"enabled": True, "name": "arms-prometheus"}},
        },
    )
    assert admitted_namespaces(plan) == {"arms-prom"}
    # ARMS does not document its agents' pod labels: its whole namespace.
    assert admitted(plan, "arms-prom", {})
    assert of_kind(plan, "PodMonitor") == of_kind(plan, "ServiceMonitor") == []


@pytest.mark.parametrize(
    "observability",
    [{"selfManaged": {"enabled": True}}, {"selfManaged": {"enabled": False}, "prometheusOperator": OPERATOR}],
)
def test_self_hosted_pickers_are_scraped_with_a_token_allowed_to_read_metrics(observability):
    plan = plan_stack("dev", {**EVERYTHING, "observability": observability}, SECRETS)
    pickers = [
        d
        for d in of_kind(plan, "Deployment")
        if "--pool-name" in d["spec"]["template"]["spec"]["containers"][0].get("args", [])
    ]
    monitors = of_kind(plan, "ServiceMonitor")
    assert len(monitors) == len(pickers) >= 1
    secrets = {s["metadata"]["name"]: s for s in of_kind(plan, "Secret")}
    roles = of_kind(plan, "ClusterRole")
    bindings = of_kind(plan, "ClusterRoleBinding")
    for picker in pickers:
        namespace = picker["metadata"]["namespace"]
        account = picker["spec"]["template"]["spec"]["serviceAccountName"]
        (service,) = [
            s for s in of_kind(plan, "Service") if s["spec"]["selector"] == picker["spec"]["selector"]["matchLabels"]
        ]
        (monitor,) = [
            m for m in monitors if selects(m["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        ]
        assert monitor["metadata"]["namespace"] == namespace
        (endpoint,) = monitor["spec"]["endpoints"]
        (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        assert "--metrics-port" in (args := picker["spec"]["template"]["spec"]["containers"][0]["args"])
        assert args[args.index("--metrics-port") + 1] == str(port["port"])
        credentials = endpoint["authorization"]["credentials"]
        token = secrets[credentials["name"]]
        assert token["type"] == "kubernetes.io/service-account-token"
        assert token["metadata"]["namespace"] == namespace
        assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == account
        assert credentials["key"] == "token"  # the key the token controller fills
        # The account whose token is presented may `get /metrics` (what the picker's authorizer asks).
        granted = [
            rule
            for binding in bindings
            if {"kind": "ServiceAccount", "name": account, "namespace": namespace} in binding["subjects"]
            for role in roles
            if role["metadata"]["name"] == binding["roleRef"]["name"]
            for rule in role["rules"]
        ]
        assert {"nonResourceURLs": [endpoint["path"]], "verbs": ["get"]} in granted


def test_pickers_get_no_token_when_nothing_reads_service_monitors():
    plan = plan_stack("dev", {**EVERYTHING, "observability": {"selfManaged": {"enabled": False}}}, SECRETS)
    assert of_kind(plan, "ServiceMonitor") == []
    assert not [s for s in of_kind(plan, "Secret") if s.get("type") == "kubernetes.io/service-account-token"]
    assert not [r for role in of_kind(plan, "ClusterRole") for r in role["rules"] if "nonResourceURLs" in r]


@pytest.mark.parametrize("stack", available_stacks(PROJECT_DIR))
def test_every_committed_stack_admits_exactly_its_monitoring_mode_s_scraper(stack):
    settings = parse_settings(*stack_config(stack).project_values())
    observability = settings.observability
    expected = set()
    if observability.self_managed.enabled:
        expected.add(observability.self_managed.namespace)
    if observability.prometheus_operator.enabled:
        expected.add(observability.prometheus_operator.namespace)
    if settings.addons.arms_prometheus.enabled:
        expected.add("arms-prom")
    assert expected, f"{stack} chooses no monitoring mode"
    assert admitted_namespaces(plan_stack(stack)) == expected


def test_two_operators_are_a_config_error():
    error = config_error(
        "dev", {"observability": {"selfManaged": {"enabled": True}, "prometheusOperator": {"enabled": True}}}
    )
    assert messages(error) == [
        "ack-inference:observability.prometheusOperator.enabled: `selfManaged.enabled` already installs a "
        "Prometheus Operator; enable one of the two"
    ]
