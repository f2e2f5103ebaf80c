"""The vLLM inference dashboard (Grafana JSON), generated from the metric catalogue.

    python -m dashboards.vllm_inference     # rewrites dashboards/vllm-inference.json

Every query comes from `metrics.vllm` (and `metrics.envoy` for the gateway row), so a
vLLM rename is fixed in one place. Panels read the `${datasource}` variable, whose default is the
`DS_PROMETHEUS` import input; `model_name` and `pod` filter every vLLM panel.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metrics import envoy, gie, vllm
from metrics.vllm import MODEL, POD, Scope

DASHBOARD_FILE = Path(__file__).with_name("vllm-inference.json")
UID = "ack-inference-vllm"
TITLE = "vLLM inference (ack-inference)"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE_WINDOW = "$__rate_interval"
GRID_WIDTH = 24
# Every series of vLLM itself (V1 creates them at start-up); the variables list their labels.
VARIABLE_SOURCE = vllm.REQUESTS_RUNNING.names[0]
VLLM_FILTER = f'{MODEL}=~"$model_name", {POD}=~"$pod"'
LISTENER_FILTER = f'{envoy.LISTENER}=~"$listener"'
QUANTILES = (0.5, 0.9, 0.95, 0.99)


def scope(*by: str) -> Scope:
    return Scope(by=by, matchers=VLLM_FILTER, window=RATE_WINDOW)


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    unit: str
    targets: tuple[Target, ...]
    kind: str = "timeseries"
    width: int = 12
    stacked: bool = False
    # (value, colour) steps above green, for stat panels that flag trouble.
    thresholds: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]
    description: str = ""
    height: int = 8


def stat(title: str, description: str, unit: str, expr: str, thresholds=()) -> Panel:
    return Panel(title, description, unit, (Target(expr, title),), kind="stat", width=3, thresholds=thresholds)


def percentiles(metric: vllm.Metric) -> tuple[Target, ...]:
    per_model = scope(MODEL)
    return (
        *(Target(vllm.quantile(q, metric, per_model), f"{{{{model_name}}}} p{round(q * 100)}") for q in QUANTILES),
        Target(vllm.mean(metric, per_model), "{{model_name}} mean"),
    )


KV_THRESHOLDS = ((0.9, "orange"), (0.98, "red"))


def rows() -> tuple[Row, ...]:
    fleet = scope()
    per_model = scope(MODEL)
    per_pod = scope(MODEL, POD)
    by_model = "{{model_name}}"
    by_pod = "{{pod}}"
    return (
        Row(
            "Overview",
            (
                stat("Requests / s", "Finished requests per second.", "reqps", vllm.finished_rate(fleet)),
                stat(
                    "Output tokens / s",
                    "Generated tokens per second.",
                    "short",
                    vllm.rate(vllm.GENERATION_TOKENS, fleet),
                ),
                stat(
                    "TTFT p95",
                    "95th percentile time to first token.",
                    "s",
                    vllm.quantile(0.95, vllm.TIME_TO_FIRST_TOKEN, fleet),
                ),
                stat(
                    "Inter-token p95",
                    "95th percentile time between output tokens.",
                    "s",
                    vllm.quantile(0.95, vllm.INTER_TOKEN_LATENCY, fleet),
                ),
                stat(
                    "Running",
                    "Requests in the running batches.",
                    "short",
                    vllm.gauge(vllm.REQUESTS_RUNNING, "sum", fleet),
                ),
                stat(
                    "Waiting", "Requests queued for a slot.", "short", vllm.gauge(vllm.REQUESTS_WAITING, "sum", fleet)
                ),
                stat(
                    "KV cache (fullest pod)",
                    "KV-cache use of the fullest pod.",
                    "percentunit",
                    vllm.gauge(vllm.KV_CACHE_USAGE, "max", fleet),
                    KV_THRESHOLDS,
                ),
                stat(
                    "Preemptions / s",
                    "Requests preempted for lack of KV-cache space.",
                    "short",
                    vllm.rate(vllm.PREEMPTIONS, fleet),
                    ((1, "orange"),),
                ),
            ),
            height=4,
        ),
        Row(
            "Throughput",
            (
                Panel(
                    "Requests / s by finish reason",
                    "Finished requests per second: stop and length are answers; abort and error are failures.",
                    "reqps",
                    (
                        Target(
                            vllm.finished_rate(scope(MODEL, vllm.FINISHED_REASON)), "{{model_name}} {{finished_reason}}"
                        ),
                    ),
                    stacked=True,
                ),
                Panel(
                    "Tokens / s",
                    "Prompt tokens (prefix-cache hits included) and generated tokens per second.",
                    "short",
                    (
                        Target(vllm.rate(vllm.PROMPT_TOKENS, per_model), f"{by_model} prompt"),
                        Target(vllm.rate(vllm.GENERATION_TOKENS, per_model), f"{by_model} generated"),
                    ),
                ),
            ),
        ),
        Row(
            "Latency",
            (
                Panel(
                    "Time to first token",
                    "Queue time plus prefill, per request.",
                    "s",
                    percentiles(vllm.TIME_TO_FIRST_TOKEN),
                ),
                Panel(
                    "Inter-token latency",
                    "Time between two output tokens (time per output token before vLLM 0.10.2).",
                    "s",
                    percentiles(vllm.INTER_TOKEN_LATENCY),
                ),
                Panel(
                    "End-to-end request latency",
                    "From arrival to the last token, per request.",
                    "s",
                    percentiles(vllm.E2E_LATENCY),
                ),
                Panel(
                    "Queue time per request",
                    "Time a request waited before it was scheduled.",
                    "s",
                    (
                        Target(vllm.mean(vllm.QUEUE_TIME, per_model), f"{by_model} mean"),
                        Target(vllm.quantile(0.95, vllm.QUEUE_TIME, per_model), f"{by_model} p95"),
                    ),
                ),
                Panel(
                    "Prefill and decode time per request",
                    "Mean time a request spent in prefill and in decode.",
                    "s",
                    (
                        Target(vllm.mean(vllm.PREFILL_TIME, per_model), f"{by_model} prefill"),
                        Target(vllm.mean(vllm.DECODE_TIME, per_model), f"{by_model} decode"),
                    ),
                ),
            ),
        ),
        Row(
            "Scheduler and KV cache",
            (
                Panel(
                    "Running and waiting requests",
                    "Requests in the running batches, requests queued for a slot, and requests swapped out to CPU "
                    "memory (V0 engine only; the V1 engine never swaps, so its pods count zero).",
                    "short",
                    (
                        Target(vllm.gauge(vllm.REQUESTS_RUNNING, "sum", per_model), f"{by_model} running"),
                        Target(vllm.gauge(vllm.REQUESTS_WAITING, "sum", per_model), f"{by_model} waiting"),
                        Target(vllm.swapped(per_model), f"{by_model} swapped"),
                    ),
                ),
                Panel(
                    "KV-cache use",
                    "Share of KV-cache blocks in use, fullest pod per model (0-1).",
                    "percentunit",
                    (Target(vllm.gauge(vllm.KV_CACHE_USAGE, "max", per_model), by_model),),
                ),
                Panel(
                    "Preemptions / s",
                    "Requests preempted for lack of KV-cache space (V1 recomputes them; V0 swapped them out).",
                    "short",
                    (Target(vllm.rate(vllm.PREEMPTIONS, per_model), by_model),),
                ),
                Panel(
                    "Prefix-cache hit ratio",
                    "Prompt tokens served from the prefix cache per token looked up.",
                    "percentunit",
                    (Target(vllm.prefix_cache_hit_ratio(per_model), by_model),),
                ),
            ),
        ),
        Row(
            "Per pod",
            (
                Panel(
                    "KV-cache use by pod",
                    "Share of KV-cache blocks in use on each pod.",
                    "percentunit",
                    (Target(vllm.gauge(vllm.KV_CACHE_USAGE, "max", per_pod), by_pod),),
                ),
                Panel(
                    "Running and waiting by pod",
                    "How evenly the gateway spreads requests.",
                    "short",
                    (
                        Target(vllm.gauge(vllm.REQUESTS_RUNNING, "sum", per_pod), f"{by_pod} running"),
                        Target(vllm.gauge(vllm.REQUESTS_WAITING, "sum", per_pod), f"{by_pod} waiting"),
                    ),
                ),
                Panel(
                    "Output tokens / s by pod",
                    "Generated tokens per second on each pod.",
                    "short",
                    (Target(vllm.rate(vllm.GENERATION_TOKENS, per_pod), by_pod),),
                ),
                Panel(
                    "TTFT p95 by pod",
                    "95th percentile time to first token on each pod.",
                    "s",
                    (Target(vllm.quantile(0.95, vllm.TIME_TO_FIRST_TOKEN, per_pod), by_pod),),
                ),
            ),
        ),
        Row(
            "Endpoint picker: what the inference-aware path sees",
            picker_panels(),
            description="Metrics of the self-hosted endpoint pickers (epp v1.0.2), one line per InferencePool or "
            "model. Empty when the gateway add-on runs the pickers; see the README's observability section.",
        ),
        Row(
            "Gateway paths: plain (8080) and inference-aware (8081)",
            gateway_panels(),
            description="Envoy proxy metrics of the Gateway, one line per listener (`http-8080`, `http-8081`). "
            "Shown when the Envoy proxies are scraped; see the README's observability section.",
        ),
    )


def picker_panels() -> tuple[Panel, ...]:
    pool = "{{" + gie.POOL + "}}"

    def rate(series: str, by: str) -> str:
        return f"sum by ({by}) (rate({series}[{RATE_WINDOW}]))"

    def latency(histogram: str, q: float, by: tuple[str, ...] = ()) -> str:
        return f"histogram_quantile({q}, sum by ({', '.join(('le', *by))}) (rate({histogram}_bucket[{RATE_WINDOW}])))"

    return (
        Panel(
            "Pool: ready pods",
            "Ready model-server pods in each InferencePool, as the picker counts them.",
            "short",
            (Target(f"max by ({gie.POOL}) ({gie.POOL_READY_PODS})", pool),),
            width=6,
        ),
        Panel(
            "Pool: KV-cache use and queue seen by the picker",
            "The pool's average KV-cache use (0-1) and average waiting queue, from the picker's own reads of the "
            "model servers' metrics: the inputs of its scorers.",
            "short",
            (
                Target(f"max by ({gie.POOL}) ({gie.POOL_KV_CACHE})", f"{pool} KV cache"),
                Target(f"max by ({gie.POOL}) ({gie.POOL_QUEUE})", f"{pool} queue"),
            ),
            width=6,
        ),
        Panel(
            "Picked requests / s by model",
            "Requests the picker routed, by requested and target model (an adapter or a rewritten name).",
            "reqps",
            (
                Target(
                    rate(gie.REQUESTS, f"{gie.MODEL}, {gie.TARGET_MODEL}"),
                    "{{" + gie.MODEL + "}} -> {{" + gie.TARGET_MODEL + "}}",
                ),
                Target(rate(gie.REQUEST_ERRORS, f"{gie.MODEL}, {gie.ERROR_CODE}"), "{{model_name}} {{error_code}}"),
            ),
            width=6,
        ),
        Panel(
            "Scheduling time",
            "How long the picker takes to choose a pod (p50, p99), and the request duration it observes (p95).",
            "s",
            (
                *(Target(latency(gie.SCHEDULING, q), f"scheduling p{round(q * 100)}") for q in (0.5, 0.99)),
                Target(latency(gie.REQUEST_DURATION, 0.95, (gie.MODEL,)), "{{model_name}} request p95"),
            ),
            width=6,
        ),
    )


def gateway_panels() -> tuple[Panel, ...]:
    listener = "{{" + envoy.LISTENER + "}}"
    server_errors = f'{envoy.RESPONSE_CLASS}="5"'

    def requests(extra: str = "", by: str = envoy.LISTENER) -> str:
        matchers = ", ".join(part for part in (LISTENER_FILTER, extra) if part)
        return f"sum by ({by}) (rate({envoy.REQUESTS_BY_CLASS}{{{matchers}}}[{RATE_WINDOW}]))"

    def latency(q: float) -> str:
        buckets = f"{envoy.REQUEST_TIME}_bucket{{{LISTENER_FILTER}}}[{RATE_WINDOW}]"
        return f"histogram_quantile({q}, sum by (le, {envoy.LISTENER}) (rate({buckets})))"

    return (
        Panel(
            "Requests / s by listener and status class",
            "Responses per second on each listener.",
            "reqps",
            (
                Target(
                    requests(by=f"{envoy.LISTENER}, {envoy.RESPONSE_CLASS}"),
                    f"{listener} {{{{{envoy.RESPONSE_CLASS}}}}}xx",
                ),
            ),
        ),
        Panel(
            "Request latency by listener",
            "Time from request start to the end of the response, streaming included.",
            "ms",
            tuple(Target(latency(q), f"{listener} p{round(q * 100)}") for q in (0.5, 0.95)),
        ),
        Panel(
            "5xx ratio by listener",
            "Share of responses with a 5xx status.",
            "percentunit",
            (Target(f"{requests(server_errors)} / {requests()}", listener),),
        ),
        Panel(
            "Active requests by listener",
            "Requests in flight on each listener.",
            "short",
            (Target(f"sum by ({envoy.LISTENER}) ({envoy.REQUESTS_ACTIVE}{{{LISTENER_FILTER}}})", listener),),
        ),
    )


def dashboard() -> dict[str, Any]:
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "The Prometheus that scrapes the vLLM pods (in ARMS: the cluster's ARMS Prometheus).",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
        ],
        "uid": UID,
        "title": TITLE,
        "description": "vLLM servers behind the ACK Gateway with Inference Extension; vLLM 0.6.6 to 0.33.",
        "tags": ["vllm", "llm", "inference", "ack-inference"],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "timezone": "",
        "version": 1,
        "templating": {"list": variables()},
        "annotations": {"list": []},
        "panels": list(layout(rows())),
    }


def variables() -> list[dict[str, Any]]:
    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            # Import substitutes the chosen data source; the Grafana sidecar leaves it, and Grafana then falls
            # back to the default Prometheus data source.
            "current": {"selected": False, "text": "${DS_PROMETHEUS}", "value": "${DS_PROMETHEUS}"},
            "hide": 0,
            "refresh": 1,
            "regex": "",
        },
        query_variable("model_name", "Model", f"label_values({VARIABLE_SOURCE}, {MODEL})"),
        query_variable("pod", "Pod", f'label_values({VARIABLE_SOURCE}{{{MODEL}=~"$model_name"}}, {POD})'),
        query_variable(
            "listener",
            "Gateway listener",
            f"label_values({envoy.REQUESTS}, {envoy.LISTENER})",
            all_value=envoy.TRAFFIC_LISTENERS,
            regex=f"/^{envoy.TRAFFIC_LISTENERS}$/",
        ),
    ]


def query_variable(name: str, label: str, query: str, all_value: str = ".*", regex: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": all_value,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "regex": regex,
        "sort": 1,
        "hide": 0,
    }


def layout(dashboard_rows: tuple[Row, ...]) -> Iterator[dict[str, Any]]:
    ids = iter(range(1, 1000))
    y = 0
    for row in dashboard_rows:
        yield {
            "id": next(ids),
            "type": "row",
            "title": row.title,
            "collapsed": False,
            "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
            "panels": [],
        }
        y += 1
        x = 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                x, y = 0, y + row.height
            yield panel_json(panel, next(ids), {"h": row.height, "w": panel.width, "x": x, "y": y}, row.description)
            x += panel.width
        y += row.height


def panel_json(panel: Panel, panel_id: int, grid: dict[str, int], row_note: str) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "min": 0}
    if panel.unit == "percentunit":
        defaults["max"] = 1
    steps = [{"color": "green", "value": None}, *({"color": c, "value": v} for v, c in panel.thresholds)]
    defaults["thresholds"] = {"mode": "absolute", "steps": steps}
    if panel.kind == "timeseries":
        defaults["custom"] = {"fillOpacity": 30 if panel.stacked else 10, "showPoints": "never"}
        if panel.stacked:
            defaults["custom"]["stacking"] = {"mode": "normal", "group": "A"}
        options: dict[str, Any] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "value",
        }
    description = f"{panel.description} {row_note}".strip()
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": grid,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "datasource": DATASOURCE,
                "refId": chr(ord("A") + index),
                "expr": target.expr,
                "legendFormat": target.legend,
                "range": True,
            }
            for index, target in enumerate(panel.targets)
        ],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main() -> int:
    DASHBOARD_FILE.write_text(render())
    print(f"wrote {DASHBOARD_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
