"""The alert rules, as the stack renders them: a valid PrometheusRule whose groups pass `promtool check rules`, and
whose alerts `promtool test rules` shows firing on unhealthy and quiet on healthy synthetic series of every
vLLM version in the data directory (each version's own metric names, both names where a release exports two)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metrics import vllm
from stacks.config_loader import parse_settings
from stacks.settings.observability import AlertSettings
from tests.harness import stack_config
from tests.promtool.stack import NAMESPACE, SERVERS, STARTUP_BUDGET_SECONDS, observe
from tests.promtool.support import (
    VersionMetrics,
    all_vllm_series,
    has_data,
    metric_names,
    parse,
    run_promtool,
    unknown_labels,
    version_metrics,
    versions,
    write_yaml,
)
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks

# Series the availability alerts read besides vLLM's: the scrape's own and kube-state-metrics' pod series.
KUBE_SERIES = {"up": frozenset(), "kube_pod_status_ready": frozenset(), "kube_pod_start_time": frozenset()}
SERVER = SERVERS[0]
POD = f"{SERVER}-6d4f9b7c8d-x2x4z"
MODEL = "meta-llama/Llama-2-7b-hf"
DEFAULTS = AlertSettings()
# Durations the series cover and when the alerts are evaluated (after every `for:` has elapsed).
MINUTES = 40
EVAL_TIME = "35m"


def render_rule(alerts: AlertSettings = DEFAULTS) -> dict:
    """The PrometheusRule the observability layer registers (self-managed monitoring serves its CRD)."""
    plan = observe({"alerts": alerts.model_dump(by_alias=True), "selfManaged": {"enabled": True}}, servers=(SERVER,))
    return plan.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs


RULE = render_rule()
RULES = [rule for group in RULE["spec"]["groups"] for rule in group["rules"]]
ALERT_NAMES = sorted({rule["alert"] for rule in RULES})


def test_the_rule_is_a_prometheus_operator_rule():
    assert RULE["apiVersion"] == "monitoring.coreos.com/v1"
    assert RULE["kind"] == "PrometheusRule"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", RULE["metadata"]["name"])
    assert RULE["metadata"]["namespace"] == NAMESPACE
    assert set(RULE) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(RULE["spec"]) == {"groups"}
    group_names = [group["name"] for group in RULE["spec"]["groups"]]
    assert len(group_names) == len(set(group_names)) and all(group_names)
    # The CRD's schema: `for` is a Prometheus duration; labels and annotations are strings.
    for rule in RULES:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert re.fullmatch(r"([0-9]+(ms|s|m|h|d|w|y))+", rule["for"])
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert all(isinstance(value, str) for value in (*rule["labels"].values(), *rule["annotations"].values()))
        assert {"summary", "description"} <= set(rule["annotations"])


def test_the_issue_s_alerts_are_all_there():
    assert set(ALERT_NAMES) == {
        "VllmTimeToFirstTokenHigh",
        "VllmKvCacheNearlyFull",
        "VllmWaitingQueueDeep",
        "VllmPreemptionRateHigh",
        "VllmRequestsFailing",
        "VllmModelServerTargetDown",
        "VllmModelServerUnavailable",
    }


@pytest.mark.parametrize("rule", RULES, ids=[rule["alert"] for rule in RULES])
def test_every_vllm_rule_parses_and_has_data_on_every_version(rule):
    expr = rule["expr"]
    parse(expr)
    names = metric_names(expr) - set(KUBE_SERIES)
    assert names <= all_vllm_series(), "names no vLLM version exposes"
    for version, metrics in versions().items():
        assert has_data(parse(expr), metrics.default | KUBE_SERIES), version
        assert not unknown_labels(expr, metrics), version


@pytest.mark.parametrize("stack", available_stacks(PROJECT_DIR))
def test_the_vllm_versions_a_stack_deploys_get_data_on_every_rule(stack):
    for model in parse_settings(*stack_config(stack).project_values()).models:
        metrics = version_metrics(model.vllm_version)
        for rule in RULES:
            assert has_data(parse(rule["expr"]), metrics.default | KUBE_SERIES), (rule["alert"], model)


def test_thresholds_come_from_the_configuration():
    custom = AlertSettings(
        ttft_p95_seconds=1.5, kv_cache_usage=0.75, waiting_requests=42, preemptions_per_second=0.25,
        failed_request_ratio=0.01,
    )  # fmt: skip
    rules = {rule["alert"]: rule["expr"] for group in render_rule(custom)["spec"]["groups"] for rule in group["rules"]}
    assert rules["VllmTimeToFirstTokenHigh"].endswith("> 1.5")
    assert rules["VllmKvCacheNearlyFull"].endswith("> 0.75")
    assert rules["VllmWaitingQueueDeep"].endswith("> 42")
    assert rules["VllmPreemptionRateHigh"].endswith("> 0.25")
    assert rules["VllmRequestsFailing"].endswith("> 0.01")


def test_promtool_checks_the_rules(tmp_path):
    rules_file = write_yaml(tmp_path / "rules.yml", {"groups": RULE["spec"]["groups"]})
    result = run_promtool("check", "rules", rules_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in result.stdout


# ---- synthetic series -------------------------------------------------------------------------------------------


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    rendered = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{rendered}}}", "values": values}


class Exporter:
    """What one vLLM pod of a given version exposes, as promtool input series (one sample a minute)."""

    def __init__(self, metrics: VersionMetrics):
        self.metrics = metrics

    def labels(self, sample: str, **extra: str) -> dict[str, str]:
        labels = {"model_name": MODEL, "namespace": NAMESPACE, "pod": POD, "job": "kubernetes-pods"}
        if "engine" in self.metrics.default[sample]:
            labels["engine"] = "0"
        return {**labels, **extra}

    def names(self, metric: vllm.Metric, suffix: str = "") -> list[str]:
        present = [name for name in metric.names if name + suffix in self.metrics.default]
        assert present, f"{metric.names} missing from {self.metrics.version}"
        return present

    def gauge(self, metric: vllm.Metric, value: float) -> list[dict]:
        return [series(name, self.labels(name), f"{value}+0x{MINUTES}") for name in self.names(metric)]

    def counter(self, metric: vllm.Metric, per_minute: float, **extra: str) -> list[dict]:
        return [series(n, self.labels(n, **extra), f"0+{per_minute}x{MINUTES}") for n in self.names(metric)]

    def histogram(self, metric: vllm.Metric, bounds: list[float], per_minute: float, value: float) -> list[dict]:
        """`per_minute` observations a minute, each equal to `value`."""
        found = []
        for name in self.names(metric, "_bucket"):
            for bound in [*bounds, float("inf")]:
                le = "+Inf" if bound == float("inf") else f"{bound}"
                increase = per_minute if value <= bound else 0
                found.append(series(f"{name}_bucket", self.labels(f"{name}_bucket", le=le), f"0+{increase}x{MINUTES}"))
            found.append(series(f"{name}_sum", self.labels(f"{name}_sum"), f"0+{per_minute * value}x{MINUTES}"))
            found.append(series(f"{name}_count", self.labels(f"{name}_count"), f"0+{per_minute}x{MINUTES}"))
        return found


TTFT_BUCKETS = [0.5, 1.0, 2.5, 5.0, 10.0]


def serving_series(exporter: Exporter, healthy: bool) -> list[dict]:
    t = DEFAULTS
    return [
        # Every first token in (2.5, 5] s: p95 interpolates to 2.5 + 0.95 * 2.5 = 4.875 s; healthy ones in (0.5, 1].
        *exporter.histogram(vllm.TIME_TO_FIRST_TOKEN, TTFT_BUCKETS, 60, 0.8 if healthy else 4.0),
        *exporter.gauge(vllm.KV_CACHE_USAGE, 0.5 if healthy else 0.95),
        *exporter.gauge(vllm.REQUESTS_WAITING, 2 if healthy else t.waiting_requests + 15),
        *exporter.gauge(vllm.REQUESTS_RUNNING, 8),
        # 120 a minute = 2 a second; healthy: 0.1 a second.
        *exporter.counter(vllm.PREEMPTIONS, 6 if healthy else 120),
        # 15 aborted of 75 finished = 20 %; healthy: 1 of 100.
        *exporter.counter(vllm.REQUESTS_FINISHED, 99 if healthy else 60, finished_reason="stop"),
        *exporter.counter(vllm.REQUESTS_FINISHED, 1 if healthy else 15, finished_reason="abort"),
        series("up", {"namespace": NAMESPACE, "pod": POD, "job": "kubernetes-pods"}, f"{int(healthy)}+0x{MINUTES}"),
        *pod_state(ready=True, started_at=0),
    ]


def pod_state(ready: bool, started_at: int, pod: str = POD) -> list[dict]:
    """kube-state-metrics' series for a pod: its readiness and its start time (Unix seconds)."""
    labels = {"namespace": NAMESPACE, "pod": pod, "uid": "0b7c", "job": "kube-state-metrics"}
    return [
        series("kube_pod_status_ready", {**labels, "condition": "true"}, f"{int(ready)}+0x{MINUTES}"),
        series("kube_pod_status_ready", {**labels, "condition": "false"}, f"{int(not ready)}+0x{MINUTES}"),
        series("kube_pod_start_time", labels, f"{started_at}+0x{MINUTES}"),
    ]


POD_LABELS = {"namespace": NAMESPACE, "pod": POD, "model_name": MODEL}
# What each alert reports when it fires: its labels and the value its description shows.
FIRING = {
    "VllmTimeToFirstTokenHigh": ({"model_name": MODEL}, "4.875s"),
    "VllmKvCacheNearlyFull": (POD_LABELS, "95%"),
    "VllmWaitingQueueDeep": (POD_LABELS, "25"),
    "VllmPreemptionRateHigh": (POD_LABELS, "2"),
    "VllmRequestsFailing": ({"model_name": MODEL}, "20%"),
    "VllmModelServerTargetDown": ({"namespace": NAMESPACE, "pod": POD, "job": "kubernetes-pods"}, "0"),
    "VllmModelServerUnavailable": ({}, "1"),
}


def expected_alert(rule: dict) -> dict:
    labels, value = FIRING[rule["alert"]]
    labels = {**labels, **rule["labels"]}

    def render(template: str) -> str:
        template = re.sub(r"\{\{ \$value( \| \w+)? \}\}", value, template)
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], template)

    return {"exp_labels": labels, "exp_annotations": {k: render(v) for k, v in rule["annotations"].items()}}


def test_alerts_report_what_the_synthetic_series_say():
    """The expected values above are the ones the series were built for, so the alert tests check the numbers."""
    assert set(FIRING) == set(ALERT_NAMES)
    assert DEFAULTS.waiting_requests + 15 == int(FIRING["VllmWaitingQueueDeep"][1])


@pytest.mark.parametrize("version", sorted(versions()))
def test_promtool_fires_every_alert_on_unhealthy_series_and_none_on_healthy_ones(version, tmp_path):
    exporter = Exporter(versions()[version])
    rules_file = write_yaml(tmp_path / "rules.yml", {"groups": RULE["spec"]["groups"]})

    def case(healthy: bool) -> dict:
        return {
            "interval": "1m",
            "input_series": serving_series(exporter, healthy),
            "alert_rule_test": [
                {
                    "eval_time": EVAL_TIME,
                    "alertname": rule["alert"],
                    "exp_alerts": [] if healthy else [expected_alert(rule)],
                }
                for rule in RULES
            ],
        }

    tests_file = write_yaml(
        tmp_path / "tests.yml", {"rule_files": [rules_file.name], "tests": [case(healthy=False), case(healthy=True)]}
    )
    result = run_promtool("test", "rules", tests_file)
    assert result.returncode == 0, f"{version}:\n{result.stdout}{result.stderr}"


def test_promtool_notices_a_broken_rule(tmp_path):
    """The promtool harness has teeth: a counter queried without `_total` never fires."""
    exporter = Exporter(versions()["v0.33.0"])
    broken = {"alert": "Broken", "expr": "sum(rate(vllm:num_preemptions[5m])) > 1", "for": "1m"}
    rules_file = write_yaml(tmp_path / "rules.yml", {"groups": [{"name": "broken", "rules": [broken]}]})
    tests_file = write_yaml(
        tmp_path / "tests.yml",
        {
            "rule_files": [rules_file.name],
            "tests": [
                {
                    "interval": "1m",
                    "input_series": exporter.counter(vllm.PREEMPTIONS, 120),
                    "alert_rule_test": [
                        {"eval_time": "10m", "alertname": "Broken", "exp_alerts": [{"exp_labels": {}}]}
                    ],
                }
            ],
        },
    )
    result = run_promtool("test", "rules", tests_file)
    assert result.returncode != 0


def test_the_rules_file_written_for_promtool_is_the_rendered_spec(tmp_path):
    written = write_yaml(tmp_path / "rules.yml", {"groups": RULE["spec"]["groups"]})
    assert Path(written).read_text().count("alert: ") == len(RULES)


# ---- availability: only pods that should be serving ---------------------------------------------------------------

OTHER_POD = f"{SERVER}-6d4f9b7c8d-k7q2m"
BUDGET_MINUTES = STARTUP_BUDGET_SECONDS // 60
AVAILABILITY = {rule["alert"]: rule for rule in RULES if rule["alert"].startswith("VllmModelServer")}


def scrape(pod: str, up: bool) -> dict:
    return series("up", {"namespace": NAMESPACE, "pod": pod, "job": "kubernetes-pods"}, f"{int(up)}+0x{MINUTES}")


def availability(input_series: list[dict], eval_time: str, firing: dict[str, list[tuple[dict, str]]]) -> dict:
    """A promtool case: at `eval_time`, each availability alert fires with exactly the (labels, value) listed."""

    def expected(rule: dict, labels: dict, value: str) -> dict:
        labels = {**labels, **rule["labels"]}
        annotations = {
            key: re.sub(
                r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], re.sub(r"\{\{ \$value \}\}", value, template)
            )
            for key, template in rule["annotations"].items()
        }
        return {"exp_labels": labels, "exp_annotations": annotations}

    return {
        "interval": "1m",
        "input_series": input_series,
        "alert_rule_test": [
            {
                "eval_time": eval_time,
                "alertname": name,
                "exp_alerts": [expected(rule, labels, value) for labels, value in firing.get(name, [])],
            }
            for name, rule in AVAILABILITY.items()
        ],
    }


def run_availability(tmp_path, cases: list[dict]):
    rules_file = write_yaml(tmp_path / "rules.yml", {"groups": RULE["spec"]["groups"]})
    tests_file = write_yaml(tmp_path / "tests.yml", {"rule_files": [rules_file.name], "tests": cases})
    return run_promtool("test", "rules", tests_file)


def target_down(pod: str) -> tuple[dict, str]:
    return {"namespace": NAMESPACE, "pod": pod, "job": "kubernetes-pods"}, "0"


def test_a_pod_loading_its_model_is_quiet_for_its_startup_budget(tmp_path):
    """Scraped but not answering (`up == 0`) and not ready: quiet for the whole budget, paged once past it."""
    loading = [scrape(POD, up=False), *pod_state(ready=False, started_at=0)]
    quiet = [availability(loading, f"{minute}m", {}) for minute in (5, 15, BUDGET_MINUTES - 1, BUDGET_MINUTES)]
    past_budget = availability(
        loading,
        f"{BUDGET_MINUTES + 8}m",
        {"VllmModelServerTargetDown": [target_down(POD)], "VllmModelServerUnavailable": [({}, "1")]},
    )
    result = run_availability(tmp_path, [*quiet, past_budget])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_ready_pod_whose_metrics_fail_fires(tmp_path):
    failing_beside_healthy = [
        scrape(POD, up=False),
        *pod_state(ready=True, started_at=0),
        scrape(OTHER_POD, up=True),
        *pod_state(ready=True, started_at=0, pod=OTHER_POD),
    ]
    only_pod_failing = [scrape(POD, up=False), *pod_state(ready=True, started_at=0)]
    result = run_availability(
        tmp_path,
        [
            # One of two pods: that pod's target is down, the model is still served.
            availability(failing_beside_healthy, "10m", {"VllmModelServerTargetDown": [target_down(POD)]}),
            availability(
                only_pod_failing,
                "10m",
                {"VllmModelServerTargetDown": [target_down(POD)], "VllmModelServerUnavailable": [({}, "1")]},
            ),
        ],
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_targets_at_all_pages_no_one(tmp_path):
    """A Prometheus that scrapes no model server (or servers scaled to zero) is not an outage of a served model."""
    unrelated = [series("up", {"job": "node-exporter", "instance": "10.0.0.1:9100"}, f"1+0x{MINUTES}")]
    result = run_availability(tmp_path, [availability(unrelated, "35m", {})])
    assert result.returncode == 0, result.stdout + result.stderr
