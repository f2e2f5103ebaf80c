"""The dashboard and the alert rules on a real Prometheus server (Debian's 2.42, `scripts/require-prometheus`).

Small exporters (http.server threads on loopback addresses) serve what vLLM pods of every catalogued version
expose (every series the version's catalogue lists as always exported), plus a stable/canary pair serving one
model on an old and a new release, an Envoy proxy, a self-hosted endpoint picker and kube-state-metrics. The
vLLM and Envoy targets are the `v1alpha2` stack's rendered pod templates run through the project's own scrape
jobs (their relabelling unchanged; only Kubernetes discovery is replaced by file-based discovery handing over
the same meta labels), so the pods are scraped at the port and path their annotations announce. Every panel
query is then evaluated through the HTTP API once per vLLM version (the dashboard's `model_name` filter set to
that version's model) and must return finite data; the canary pair must be counted in full; every rule must
evaluate without error and stay quiet on the healthy series.

Everything runs on 127.0.0.0/8 with a temporary data folder and a hard time bound; every process and thread
started here is stopped in `finally` blocks.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.observability.monitoring_stack import annotation_scrape_job, envoy_scrape_job
from dashboards.vllm_inference import DASHBOARD_FILE
from metrics import envoy, gie, vllm
from tests.conftest import VLLM_DIR
from tests.harness import plan_stack

# The whole module (server start, scrapes, every query) must finish within this.
DEADLINE_SECONDS = 80
SCRAPE_INTERVAL = "500ms"
RATE_WINDOW = "5s"
# rate() divides by the whole window: query once every series covers it.
SAMPLES_BEFORE_QUERYING = 13
CANARY_MODEL = "llama-2-7b"
STABLE_VERSION, CANARY_VERSION = "v0.8.5.post1", "v0.33.0"
# Per-pod rates (per second) and gauges of the canary pair: different, so that dropping either pod shows.
SPEED = {"stable": 2.0, "canary": 1.0}
KV_CACHE = {"stable": 0.75, "canary": 0.25}


def catalogues() -> dict[str, list[dict[str, Any]]]:
    """Per vLLM version, the metrics its catalogue lists as exported with default flags."""
    found = {}
    for path in sorted(VLLM_DIR.glob("metrics-*.json")):
        data = json.loads(path.read_text())
        found[data["vllm_version"]] = [
            m for m in data["metrics"] if m["condition"].startswith(("always", "exposed always"))
        ]
    return found


# ---- exporters --------------------------------------------------------------------------------------------------

BUCKETS = (0.005, 0.05, 0.5, 5.0, 50.0, 500.0, 5000.0)
# Label values for the labels vLLM's series carry besides model_name; each listed value is its own series.
LABEL_VALUES = {"engine": ("0",), "finished_reason": ("stop", "length", "abort")}
# Healthy values: below every alert threshold, finite everywhere.
GAUGES = {"vllm:num_requests_waiting": 1.0, "vllm:gpu_prefix_cache_hit_rate": 0.5, "vllm:num_requests_swapped": 1.0}


def _labels(pairs: dict[str, str]) -> str:
    return "{" + ",".join(f'{key}="{value}"' for key, value in pairs.items()) + "}" if pairs else ""


def _label_sets(label_names: list[str], base: dict[str, str]) -> Iterator[dict[str, str]]:
    sets = [dict(base)]
    for name in label_names:
        if name in base:
            continue
        sets = [{**s, name: value} for s in sets for value in LABEL_VALUES.get(name, ("x",))]
    yield from sets


def vllm_exposition(metrics: list[dict[str, Any]], model: str, speed: float, kv: float, elapsed: float) -> str:
    """Text exposition of one vLLM pod: counters grow at `speed` a second, histograms observe `speed` a second
    (one in a hundred aborted, below the failed-request threshold), gauges hold healthy values."""
    lines = []
    for metric in metrics:
        for labels in _label_sets(metric["labels"], {"model_name": model}):
            count = speed * elapsed * (0.02 if labels.get("finished_reason") == "abort" else 1)
            for sample in metric["samples"]:
                if metric["type"] == "histogram":
                    if sample.endswith("_bucket"):
                        for bound in (*BUCKETS, "+Inf"):
                            # Every observation is 0.04: inside (0.005, 0.05].
                            value = count if bound == "+Inf" or bound >= 0.05 else 0
                            lines.append(f"{sample}{_labels({**labels, 'le': str(bound)})} {value}")
                        continue
                    value = count * 0.04 if sample.endswith("_sum") else count
                elif metric["type"] == "counter":
                    # Prefix-cache hits are half the lookups; `_created` is a start timestamp.
                    value = 1.0 if sample.endswith("_created") else count * (0.5 if "hits" in sample else 1)
                elif sample in ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"):
                    value = kv
                else:
                    value = GAUGES.get(sample, speed)
                lines.append(f"{sample}{_labels(labels)} {value}")
    return "\n".join(lines) + "\n"


def envoy_exposition(elapsed: float) -> str:
    lines = []
    for listener in ("http-8080", "http-8081"):
        base = {envoy.LISTENER: listener}
        lines.append(f"{envoy.REQUESTS}{_labels(base)} {3 * elapsed}")
        lines.append(f"{envoy.REQUESTS_ACTIVE}{_labels(base)} 2")
        for code_class, share in (("2", 0.98), ("5", 0.02)):
            lines.append(f"{envoy.REQUESTS_BY_CLASS}{_labels({**base, envoy.RESPONSE_CLASS: code_class})} "
                         f"{3 * elapsed * share}")  # fmt: skip
        for bound in (10, 100, 1000, 10000, "+Inf"):
            value = 3 * elapsed if bound == "+Inf" or bound >= 1000 else 0
            lines.append(f"{envoy.REQUEST_TIME}_bucket{_labels({**base, 'le': str(bound)})} {value}")
        lines.append(f"{envoy.REQUEST_TIME}_sum{_labels(base)} {3 * elapsed * 500}")
        lines.append(f"{envoy.REQUEST_TIME}_count{_labels(base)} {3 * elapsed}")
    return "\n".join(lines) + "\n"


def picker_exposition(elapsed: float) -> str:
    pool = {gie.POOL: "llama2-stable"}
    model = {gie.MODEL: CANARY_MODEL, gie.TARGET_MODEL: CANARY_MODEL}
    lines = [
        f"{gie.POOL_READY_PODS}{_labels(pool)} 2",
        f"{gie.POOL_KV_CACHE}{_labels(pool)} 0.5",
        f"{gie.POOL_QUEUE}{_labels(pool)} 1",
        f"{gie.REQUESTS}{_labels(model)} {2 * elapsed}",
        f"{gie.REQUEST_ERRORS}{_labels({**model, gie.ERROR_CODE: 'BadRequest'})} {0.01 * elapsed}",
    ]
    for histogram, labels, value in ((gie.REQUEST_DURATION, model, 0.5), (gie.SCHEDULING, {}, 0.0005)):
        for bound in (0.0001, 0.001, 0.01, 1, 10, "+Inf"):
            count = 2 * elapsed if bound == "+Inf" or bound >= value else 0
            lines.append(f"{histogram}_bucket{_labels({**labels, 'le': str(bound)})} {count}")
        lines.append(f"{histogram}_sum{_labels(labels)} {2 * elapsed * value}")
        lines.append(f"{histogram}_count{_labels(labels)} {2 * elapsed}")
    return "\n".join(lines) + "\n"


def kube_state_exposition(pods: list[tuple[str, str]], started: float) -> str:
    """Every pod ready, started long before its startup budget ran out."""
    lines = []
    for namespace, pod in pods:
        base = {"namespace": namespace, "pod": pod, "uid": pod[-5:]}
        lines.append(f"kube_pod_status_ready{_labels({**base, 'condition': 'true'})} 1")
        lines.append(f"kube_pod_status_ready{_labels({**base, 'condition': 'false'})} 0")
        lines.append(f"kube_pod_start_time{_labels(base)} {started}")
    return "\n".join(lines) + "\n"


class Exporter:
    """One `/path` on one address, answering with `render(seconds since start)`."""

    def __init__(self, path: str, render: Callable[[float], str], host: str = "127.0.0.1", port: int = 0):
        started = time.monotonic()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if urllib.parse.urlsplit(self.path).path != path:
                    self.send_error(404)
                    return
                body = render(time.monotonic() - started).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def on_loopback_alias(port: int, path: str, render: Callable[[float], str]) -> Exporter:
    """An exporter on a random 127.x.y.z address at `port` (the pod's own port: the relabelling sets it)."""
    for _ in range(50):
        host = f"127.{random.randint(16, 250)}.{random.randint(0, 250)}.{random.randint(2, 250)}"
        try:
            return Exporter(path, render, host, port)
        except OSError:
            continue
    raise AssertionError(f"no free loopback address for port {port}")


# ---- the stack's pods -------------------------------------------------------------------------------------------


def _meta_name(key: str) -> str:
    return "".join(char if char.isalnum() else "_" for char in key)


def discovered(template: dict[str, Any], namespace: str, pod: str, host: str, port: int) -> dict[str, str]:
    """The meta labels Kubernetes pod discovery hands the relabelling for one container port of a pod."""
    meta = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": pod,
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_container_port_number": str(port),
        "__meta_kubernetes_pod_ip": host,
    }
    for key, value in template["metadata"].get("annotations", {}).items():
        meta["__meta_kubernetes_pod_annotation_" + _meta_name(key)] = value
    for key, value in template["metadata"].get("labels", {}).items():
        meta["__meta_kubernetes_pod_label_" + _meta_name(key)] = value
    return meta


def file_sd_job(job: dict[str, Any], path: Path) -> dict[str, Any]:
    """The project's scrape job with Kubernetes discovery replaced by file discovery (relabelling unchanged)."""
    replaced = {key: value for key, value in job.items() if key != "kubernetes_sd_configs"}
    return {**replaced, "file_sd_configs": [{"files": [str(path)], "refresh_interval": "1s"}]}


# ---- the server ---------------------------------------------------------------------------------------------------


class Prometheus:
    def __init__(self, url: str, deadline: float):
        self.url = url
        self.deadline = deadline

    def get(self, path: str, **params: str) -> dict[str, Any]:
        remaining = max(1.0, self.deadline - time.monotonic())
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=min(10.0, remaining)) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=expr)["result"]

    def wait(self, what: str, check: Callable[[], bool]) -> None:
        while not check():
            assert time.monotonic() < self.deadline, f"timed out waiting for {what}"
            time.sleep(0.25)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Fleet:
    """What the tests query: the server, each vLLM version's model name, the rendered rules."""

    def __init__(self, prometheus: Prometheus, version_models: dict[str, str], rules: list[dict[str, Any]]):
        self.prometheus = prometheus
        self.version_models = version_models
        self.rules = rules


def _render_stack() -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The v1alpha2 stack's Deployments (stable and canary) and its rule groups."""
    plan = plan_stack("v1alpha2")
    objects = plan.kubernetes_objects()
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    (rule,) = [o for o in objects if o["kind"] == "PrometheusRule"]
    return deployments, rule["spec"]["groups"]


class Simulation:
    """The exporters standing in for the stack's pods, and the scrape targets that reach them."""

    def __init__(self) -> None:
        self.exporters: list[Exporter] = []
        self.vllm_targets: list[dict[str, Any]] = []
        self.pods: list[tuple[str, str]] = []
        self.version_models: dict[str, str] = {}

    def vllm_pod(self, deployment: dict[str, Any], index: str, version: str, model: str, role: str) -> None:
        """A pod of `deployment` (its rendered template) running vLLM `version`, serving `model`."""
        template = deployment["spec"]["template"]
        namespace = deployment["metadata"]["namespace"]
        name = f"{deployment['metadata']['name']}-5c7d9f8b6d-{index}"
        port = int(template["metadata"]["annotations"]["prometheus.io/port"])
        metrics = catalogues()[version]
        speed, kv = SPEED.get(role, 1.0), KV_CACHE.get(role, 0.5)
        exporter = on_loopback_alias(
            port,
            template["metadata"]["annotations"]["prometheus.io/path"],
            lambda elapsed: vllm_exposition(metrics, model, speed, kv, elapsed),
        )
        self.exporters.append(exporter)
        host = exporter.server.server_address[0]
        # Discovery's address is the pod IP and the container port; the job sets the annotated port.
        self.vllm_targets.append(
            {"targets": [f"{host}:{port}"], "labels": discovered(template, namespace, name, host, port)}
        )
        self.pods.append((namespace, name))

    def envoy_target(self) -> dict[str, Any]:
        """The Gateway's Envoy proxy, labelled as Envoy Gateway labels it."""
        proxy = {"metadata": {"labels": dict(envoy.PROXY_POD_LABELS), "annotations": {}}}
        exporter = on_loopback_alias(envoy.STATS_PORT, envoy.STATS_PATH, envoy_exposition)
        self.exporters.append(exporter)
        host = exporter.server.server_address[0]
        meta = discovered(proxy, "envoy-gateway-system", "envoy-llm-gw-7f9c-abcde", host, envoy.STATS_PORT)
        return {"targets": [exporter.address], "labels": meta}

    def exporter(self, render: Callable[[float], str]) -> Exporter:
        exporter = Exporter("/metrics", render)
        self.exporters.append(exporter)
        return exporter

    def stop(self) -> None:
        for exporter in self.exporters:
            exporter.stop()


def prometheus_config(work: Path, simulation: Simulation, groups: list[dict[str, Any]]) -> Path:
    stable_started = time.time() - 7200
    picker = simulation.exporter(picker_exposition)
    kube_state = simulation.exporter(lambda _: kube_state_exposition(simulation.pods, stable_started))
    envoy_sd = work / "envoy.json"
    envoy_sd.write_text(json.dumps([simulation.envoy_target()]))
    vllm_sd = work / "vllm.json"
    vllm_sd.write_text(json.dumps(simulation.vllm_targets))
    (work / "rules.yml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(work / "rules.yml")],
        "scrape_configs": [
            file_sd_job(annotation_scrape_job(), vllm_sd),
            file_sd_job(envoy_scrape_job(), envoy_sd),
            {"job_name": "endpoint-picker", "static_configs": [{"targets": [picker.address]}]},
            # kube-state-metrics' own `namespace` and `pod` labels win, as kube-prometheus-stack configures it.
            {
                "job_name": "kube-state-metrics",
                "honor_labels": True,
                "static_configs": [{"targets": [kube_state.address]}],
            },
        ],
    }
    path = work / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def stop(process: subprocess.Popen) -> None:
    # Killed, not terminated: its data folder is thrown away, so a clean shutdown (seconds of TSDB flushing)
    # buys nothing.
    process.kill()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[Fleet]:
    binary = shutil.which("prometheus")
    assert binary, "the Prometheus server is missing: run scripts/require-prometheus (make tools)"
    deadline = time.monotonic() + DEADLINE_SECONDS
    work = tmp_path_factory.mktemp("prometheus")
    deployments, groups = _render_stack()
    simulation = Simulation()
    try:
        for index, version in enumerate(sorted(catalogues())):
            simulation.version_models[version] = f"model-{version}"
            simulation.vllm_pod(deployments["llama2-stable"], f"v{index:04d}", version, f"model-{version}", "version")
        simulation.vllm_pod(deployments["llama2-stable"], "stab1", STABLE_VERSION, CANARY_MODEL, "stable")
        simulation.vllm_pod(deployments["llama2-canary"], "cana1", CANARY_VERSION, CANARY_MODEL, "canary")
        config = prometheus_config(work, simulation, groups)
        port = free_port()
        with (work / "prometheus.log").open("w") as log:
            process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            prometheus = Prometheus(f"http://127.0.0.1:{port}", deadline)

            def ready() -> bool:
                assert process.poll() is None, (work / "prometheus.log").read_text()[-3000:]
                try:
                    with urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=2) as response:
                        return response.status == 200
                except OSError:
                    return False

            prometheus.wait("the server", ready)
            expected = len(simulation.vllm_targets) + 3

            def scraped_enough() -> bool:
                return len(prometheus.query(f"count_over_time(up[1m]) >= {SAMPLES_BEFORE_QUERYING}")) == expected

            prometheus.wait(f"{expected} targets with {SAMPLES_BEFORE_QUERYING} scrapes", scraped_enough)
            rules = [rule for group in groups for rule in group["rules"]]
            yield Fleet(prometheus, simulation.version_models, rules)
        finally:
            stop(process)
    finally:
        simulation.stop()


# ---- the checks ---------------------------------------------------------------------------------------------------

DASHBOARD = json.loads(DASHBOARD_FILE.read_text())
TARGETS = [
    (f"{panel['title']}/{target['refId']}", target["expr"])
    for panel in DASHBOARD["panels"]
    if panel["type"] != "row"
    for target in panel["targets"]
]


def instantiate(expr: str, model: str = ".*") -> str:
    """A panel query as Grafana sends it with the model filter set (the other variables on All)."""
    listener = next(v for v in DASHBOARD["templating"]["list"] if v["name"] == "listener")["allValue"]
    return (
        expr.replace("$__rate_interval", RATE_WINDOW)
        .replace("$model_name", model)
        .replace("$pod", ".*")
        .replace("$listener", listener)
    )


def finite(result: list[dict[str, Any]]) -> list[float]:
    return [float(series["value"][1]) for series in result if math.isfinite(float(series["value"][1]))]


def test_every_target_is_up(fleet):
    down = fleet.prometheus.query("up == 0")
    assert down == []
    assert {s["metric"]["job"] for s in fleet.prometheus.query("up")} == {
        "kubernetes-pods",
        "envoy-gateway-proxies",
        "endpoint-picker",
        "kube-state-metrics",
    }
    # The project's relabelling labelled each vLLM pod with its namespace and pod name.
    pods = fleet.prometheus.query('up{job="kubernetes-pods"}')
    assert all({"namespace", "pod", "app"} <= set(s["metric"]) for s in pods)


def test_every_panel_has_data_on_every_vllm_version(fleet):
    lost = []
    for name, expr in TARGETS:
        if metric_family(expr) != "vllm":
            continue
        for version, model in fleet.version_models.items():
            if not finite(fleet.prometheus.query(instantiate(expr, model))):
                lost.append(f"{name} on {version}")
    assert lost == []


def test_the_gateway_and_picker_panels_have_data(fleet):
    empty = [
        name
        for name, expr in TARGETS
        if metric_family(expr) != "vllm" and not finite(fleet.prometheus.query(instantiate(expr)))
    ]
    assert empty == []


def metric_family(expr: str) -> str:
    if any(name in expr for name in gie.NAMES):
        return "picker"
    if any(name in expr for name in envoy.NAMES):
        return "envoy"
    return "vllm"


def one_value(fleet: Fleet, expr: str) -> float:
    (series,) = fleet.prometheus.query(instantiate(expr, CANARY_MODEL))
    return float(series["value"][1])


def test_the_canary_pair_is_counted_in_full(fleet):
    """A 0.8.5 pod (old names) and a 0.33 pod (new names) serve one model: sums and maxima cover both."""
    per_model = vllm.Scope(by=(vllm.MODEL,), matchers='model_name=~"$model_name"', window=RATE_WINDOW)
    both = SPEED["stable"] + SPEED["canary"]
    assert one_value(fleet, vllm.gauge(vllm.KV_CACHE_USAGE, "max", per_model)) == max(KV_CACHE.values())
    assert one_value(fleet, vllm.gauge(vllm.REQUESTS_RUNNING, "sum", per_model)) == both
    for metric, suffix in (
        (vllm.INTER_TOKEN_LATENCY, "_count"),
        (vllm.PREFIX_CACHE_QUERIES, ""),
        (vllm.PREFIX_CACHE_HITS, ""),
        (vllm.GENERATION_TOKENS, ""),
    ):
        total = one_value(fleet, vllm.rate(metric, per_model, suffix=suffix))
        expected = both * (0.5 if metric is vllm.PREFIX_CACHE_HITS else 1)
        assert total == pytest.approx(expected, rel=0.1), metric.names


def test_every_rule_evaluates_and_stays_quiet_on_healthy_series(fleet):
    names = {rule["alert"] for rule in fleet.rules}

    def evaluated() -> bool:
        groups = fleet.prometheus.get("/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return {r["name"] for r in rules} == names and all(r["evaluationTime"] > 0 for r in rules)

    fleet.prometheus.wait("a rule evaluation", evaluated)
    groups = fleet.prometheus.get("/api/v1/rules")["groups"]
    unhealthy = {r["name"]: r.get("lastError") for g in groups for r in g["rules"] if r["health"] != "ok"}
    assert unhealthy == {}
    for rule in fleet.rules:
        fleet.prometheus.query(rule["expr"])  # the API answers `success` (checked in `get`)
    alerts = fleet.prometheus.get("/api/v1/alerts")["alerts"]
    assert [(a["labels"]["alertname"], a["labels"].get("model_name")) for a in alerts] == []
    # The availability rules read real series here: every pod should serve and does.
    (serving,) = fleet.prometheus.query('count(kube_pod_status_ready{condition="true"} == 1)')
    assert float(serving["value"][1]) == len(fleet.version_models) + 2
