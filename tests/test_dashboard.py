"""The committed Grafana dashboard: generated from the catalogue, well formed, and with data on every vLLM version."""

from __future__ import annotations

import json
import re

import pytest

from dashboards.vllm_inference import DASHBOARD_FILE, render
from metrics import envoy as envoy_metrics
from metrics import gie as gie_metrics
from metrics import vllm
from stacks.config_loader import parse_settings
from tests.harness import stack_config
from tests.promtool.support import (
    all_vllm_series,
    has_data,
    metric_names,
    parse,
    unknown_labels,
    version_metrics,
    versions,
)
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks

DASHBOARD = json.loads(DASHBOARD_FILE.read_text())
PANELS = [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]
TARGETS = [(panel["title"], target) for panel in PANELS for target in panel["targets"]]
IDS = [f"{title}/{target['refId']}" for title, target in TARGETS]
VARIABLES = {variable["name"]: variable for variable in DASHBOARD["templating"]["list"]}


def is_gateway(expr: str) -> bool:
    return bool(metric_names(expr) & set(envoy_metrics.NAMES))


def is_picker(expr: str) -> bool:
    return bool(metric_names(expr) & set(gie_metrics.NAMES))


VLLM_TARGETS = [
    (title, target) for title, target in TARGETS if not is_gateway(target["expr"]) and not is_picker(target["expr"])
]


def test_the_committed_file_is_the_generators_output():
    assert DASHBOARD_FILE.read_text() == render(), "run `python -m dashboards.vllm_inference`"


def test_panel_ids_are_unique_and_panels_do_not_overlap():
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_panel_and_target_reads_the_datasource_variable():
    assert VARIABLES["datasource"]["type"] == "datasource"
    assert VARIABLES["datasource"]["query"] == "prometheus"
    assert [i["name"] for i in DASHBOARD["__inputs"]] == ["DS_PROMETHEUS"]
    assert DASHBOARD["__inputs"][0]["pluginId"] == "prometheus"
    # Import replaces `${DS_PROMETHEUS}`; it must lead somewhere, namely to the variable's default.
    assert "${DS_PROMETHEUS}" in json.dumps(VARIABLES["datasource"]["current"])
    for panel in PANELS:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_the_dashboard_covers_what_the_issue_asks_for():
    titles = " ".join(panel["title"].lower() for panel in PANELS)
    for topic in (
        "requests / s",
        "tokens / s",
        "time to first token",
        "inter-token",
        "end-to-end",
        "queue time",
        "running and waiting",
        "kv-cache",
        "preemptions",
        "finish reason",
        "by pod",
        "by listener",
    ):
        assert topic in titles, topic


@pytest.mark.parametrize(("title", "target"), TARGETS, ids=IDS)
def test_every_query_parses(title, target):
    parse(target["expr"])


@pytest.mark.parametrize(("title", "target"), VLLM_TARGETS, ids=[f"{t}/{x['refId']}" for t, x in VLLM_TARGETS])
def test_every_vllm_panel_has_data_on_every_version(title, target):
    expr = target["expr"]
    assert metric_names(expr) <= all_vllm_series(), "names no vLLM version exposes"
    missing = [version for version, metrics in versions().items() if not has_data(parse(expr), metrics.default)]
    assert not missing, f"no data on {missing}"
    for version, metrics in versions().items():
        assert not unknown_labels(expr, metrics), version


@pytest.mark.parametrize(("title", "target"), VLLM_TARGETS, ids=[f"{t}/{x['refId']}" for t, x in VLLM_TARGETS])
def test_every_vllm_panel_filters_by_model_and_pod(title, target):
    for selector in re.findall(r"vllm:\w+(\{[^}]*\})?", target["expr"]):
        assert 'model_name=~"$model_name"' in selector and 'pod=~"$pod"' in selector, title


def test_gateway_panels_compare_listeners_and_read_only_envoy_metrics():
    gateway = [(title, target) for title, target in TARGETS if is_gateway(target["expr"])]
    assert {title for title, _ in gateway} >= {
        "Request latency by listener",
        "Requests / s by listener and status class",
    }
    for _, target in gateway:
        assert metric_names(target["expr"]) <= set(envoy_metrics.NAMES)
        assert f'{envoy_metrics.LISTENER}=~"$listener"' in target["expr"]
        assert f"{{{{{envoy_metrics.LISTENER}}}}}" in target["legendFormat"]


def test_the_picker_row_reads_only_the_pickers_metrics():
    picker = [(title, target) for title, target in TARGETS if is_picker(target["expr"])]
    assert {title for title, _ in picker} >= {"Pool: ready pods", "Scheduling time"}
    for _, target in picker:
        assert metric_names(target["expr"]) <= set(gie_metrics.NAMES)


def test_swapped_requests_show_on_v0_and_count_zero_on_v1():
    """The V0 gauge where a pod exports it; a zero series elsewhere (the V1 engine never swaps)."""
    (target,) = [
        t for title, t in TARGETS if title == "Running and waiting requests" and "swapped" in t["legendFormat"]
    ]
    names = metric_names(target["expr"])
    assert vllm.REQUESTS_SWAPPED.names[0] in names
    assert "vllm:num_requests_swapped" in versions()["v0.6.6.post1"].default
    assert "vllm:num_requests_swapped" not in versions()["v0.33.0"].default
    assert target["expr"].count("0 * ") == 1


def test_variables_query_metrics_that_exist():
    assert set(VARIABLES) == {"datasource", "model_name", "pod", "listener"}
    for name in ("model_name", "pod"):
        query = VARIABLES[name]["query"]["query"]
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
        assert match, query
        selector, label = match.groups()
        assert label == name
        for version, metrics in versions().items():
            assert has_data(parse(selector), metrics.default), version
            (metric,) = metric_names(selector)
            assert label in metrics.default[metric] | {"pod"}, version
    listener = re.fullmatch(r"label_values\((\w+), (\w+)\)", VARIABLES["listener"]["query"]["query"])
    assert listener and listener[1] in envoy_metrics.NAMES and listener[2] == envoy_metrics.LISTENER
    # "All" must keep to traffic listeners (not Envoy's admin listener).
    all_value = VARIABLES["listener"]["allValue"]
    assert re.fullmatch(all_value, "http-8080") and re.fullmatch(all_value, "http-8081")
    assert not re.fullmatch(all_value, "admin")


@pytest.mark.parametrize("stack", available_stacks(PROJECT_DIR))
def test_the_vllm_versions_a_stack_deploys_get_data_on_every_panel(stack):
    settings = parse_settings(*stack_config(stack).project_values())
    for model in settings.models:
        metrics = version_metrics(model.vllm_version)
        for title, target in VLLM_TARGETS:
            assert has_data(parse(target["expr"]), metrics.default), f"{title} on {model.vllm_version}"


def test_the_data_presence_check_has_teeth():
    """The check above would catch the classic mistakes."""
    recent, v0 = version_metrics("0.18.2"), version_metrics("0.6.6.post1")
    assert not has_data(parse("rate(vllm:num_preemptions[5m])"), recent.default)  # counter without _total
    assert not has_data(parse("vllm:gpu_cache_usage_perc"), recent.default)  # removed in 0.12
    assert not has_data(parse("vllm:kv_cache_usage_perc"), v0.default)  # added in 0.9.2
    assert has_data(parse("vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc"), v0.default)
    assert not has_data(parse("vllm:num_requests_running / vllm:kv_cache_usage_perc"), v0.default)
