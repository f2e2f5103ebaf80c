"""The vLLM metric catalogue against vLLM's metric lists, and what its PromQL computes (evaluated by promtool)."""

from __future__ import annotations

import json

import pytest

from metrics import vllm
from metrics.vllm import MODEL, POD, Scope
from tests.conftest import VLLM_DIR
from tests.promtool.support import run_promtool, versions, write_yaml

CONCEPTS = sorted(vllm.CATALOGUE.items())
TYPES = {}
for _path in sorted(VLLM_DIR.glob("metrics-*.json")):
    for _metric in json.loads(_path.read_text())["metrics"]:
        TYPES.setdefault(_metric["name"], set()).add(_metric["type"])


@pytest.mark.parametrize(("concept", "metric"), CONCEPTS, ids=[c for c, _ in CONCEPTS])
def test_every_name_is_a_real_series_of_the_stated_kind(concept, metric):
    for name in metric.names:
        assert TYPES.get(name) == {metric.kind}, f"{name}: {TYPES.get(name)}"
    exposed = frozenset().union(*(v.everything for v in versions().values()))
    assert set(metric.samples) <= exposed


# The V0 prefix-cache gauge stands in for the counters on V0 only, and only V0 swaps; every other concept exists
# on every version.
ALWAYS_THERE = [(c, m) for c, m in CONCEPTS if not c.startswith("prefix_cache") and c != "requests_swapped"]


@pytest.mark.parametrize(("concept", "metric"), ALWAYS_THERE, ids=[c for c, _ in ALWAYS_THERE])
def test_every_concept_has_a_name_on_every_version(concept, metric):
    for version, metrics in versions().items():
        assert any(sample in metrics.default for sample in metric.samples), version


def test_prefix_cache_hit_rate_has_a_source_on_every_version():
    sources = (vllm.PREFIX_CACHE_HITS, vllm.PREFIX_CACHE_QUERIES, vllm.PREFIX_CACHE_HIT_RATE_V0)
    for version, metrics in versions().items():
        counters = all(any(name in metrics.default for name in m.names) for m in sources[:2])
        assert counters or sources[2].names[0] in metrics.default, version


def test_renamed_concepts_list_the_newest_name_first():
    """The newest name appears in the newest release; the older one is gone from it."""
    newest = versions()["v0.33.0"].default
    for metric in (vllm.KV_CACHE_USAGE, vllm.INTER_TOKEN_LATENCY, vllm.PREFIX_CACHE_HITS, vllm.PREFIX_CACHE_QUERIES):
        first, *older = metric.samples[:: 3 if metric.kind == "histogram" else 1]
        assert first in newest and not any(name in newest for name in older), metric.names


# ---- what the queries compute, evaluated by promtool on synthetic series ----------------------------------------


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    return {"series": name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "values": values}


def _histogram(name: str, bounds: list[float], per_minute: int, value: float, **labels: str) -> list[dict]:
    found = [
        _series(f"{name}_bucket", f"0+{per_minute if value <= bound else 0}x20", le=str(bound), **labels)
        for bound in bounds
    ]
    found.append(_series(f"{name}_bucket", f"0+{per_minute}x20", le="+Inf", **labels))
    found.append(_series(f"{name}_sum", f"0+{per_minute * value}x20", **labels))
    found.append(_series(f"{name}_count", f"0+{per_minute}x20", **labels))
    return found


def _evaluate(tmp_path, input_series: list[dict], checks: list[tuple[str, list[tuple[dict, float]]]]) -> None:
    tests = {
        "rule_files": [],
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series,
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "15m",
                        "exp_samples": [
                            {"labels": "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "value": value}
                            for labels, value in samples
                        ],
                    }
                    for expr, samples in checks
                ],
            }
        ],
    }
    result = run_promtool("test", "rules", write_yaml(tmp_path / "tests.yml", tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_release_exporting_both_names_is_counted_once_with_the_new_one(tmp_path):
    """vLLM 0.10.2 exports old and new names; values differ here so that a mix-up shows."""
    pod = {"model_name": "m", "pod": "p"}
    series = [
        _series("vllm:kv_cache_usage_perc", "0.75+0x20", **pod),
        _series("vllm:gpu_cache_usage_perc", "0.25+0x20", **pod),
        # New histogram: tokens 62.5 ms apart; the old one, with lower buckets, says 15 ms: mixing their buckets
        # would pull the median down. Binary-exact values because promtool 2.42 compares results exactly.
        *_histogram("vllm:inter_token_latency_seconds", [0.03125, 0.0625, 0.125], 60, 0.0625, **pod),
        *_histogram("vllm:time_per_output_token_seconds", [0.01, 0.02], 60, 0.015, **pod),
    ]
    per_pod = Scope(by=(MODEL, POD))
    _evaluate(
        tmp_path,
        series,
        [
            (vllm.gauge(vllm.KV_CACHE_USAGE, "max", per_pod), [(pod, 0.75)]),
            (vllm.gauge(vllm.KV_CACHE_USAGE, "sum", Scope(by=())), [({}, 0.75)]),
            # Median inside (0.03125, 0.0625]: 0.03125 + 0.5 * 0.03125.
            (vllm.quantile(0.5, vllm.INTER_TOKEN_LATENCY, per_pod), [(pod, 0.046875)]),
            (vllm.mean(vllm.INTER_TOKEN_LATENCY, per_pod), [(pod, 0.0625)]),
        ],
    )


def test_a_fleet_of_old_and_new_releases_adds_up(tmp_path):
    """Model `old` (vLLM 0.8) only has the old names, model `new` (0.18) only the new ones."""
    old, new = {"model_name": "old", "pod": "a"}, {"model_name": "new", "pod": "b"}
    series = [
        _series("vllm:gpu_cache_usage_perc", "0.25+0x20", **old),
        _series("vllm:kv_cache_usage_perc", "0.5+0x20", **new),
        *_histogram("vllm:time_per_output_token_seconds", [0.125, 1.0], 60, 0.5, **old),
        *_histogram("vllm:inter_token_latency_seconds", [0.125, 1.0], 60, 0.0625, **new),
        _series("vllm:gpu_prefix_cache_hits_total", "0+30x20", **old),
        _series("vllm:gpu_prefix_cache_queries_total", "0+120x20", **old),
        _series("vllm:prefix_cache_hits_total", "0+90x20", **new),
        _series("vllm:prefix_cache_queries_total", "0+120x20", **new),
    ]
    per_model = Scope(by=(MODEL,))
    fleet = Scope(by=())
    _evaluate(
        tmp_path,
        series,
        [
            (
                vllm.gauge(vllm.KV_CACHE_USAGE, "max", per_model),
                [({"model_name": "old"}, 0.25), ({"model_name": "new"}, 0.5)],
            ),
            (vllm.gauge(vllm.KV_CACHE_USAGE, "max", fleet), [({}, 0.5)]),
            # Fleet-wide: half the observations at 0.0625 s (bucket 0.125), half at 0.5 s (bucket 1.0).
            (vllm.rate(vllm.INTER_TOKEN_LATENCY, fleet, suffix="_count"), [({}, 2.0)]),
            (vllm.quantile(0.5, vllm.INTER_TOKEN_LATENCY, fleet), [({}, 0.125)]),
            (vllm.mean(vllm.INTER_TOKEN_LATENCY, fleet), [({}, 0.28125)]),
            (vllm.prefix_cache_hit_ratio(per_model), [({"model_name": "old"}, 0.25), ({"model_name": "new"}, 0.75)]),
        ],
    )


def test_v0_prefix_cache_gauge_counts_only_while_prefix_caching_is_on(tmp_path):
    on, off = {"model_name": "on", "pod": "a"}, {"model_name": "off", "pod": "b"}
    series = [
        _series("vllm:gpu_prefix_cache_hit_rate", "0.4+0x20", **on),
        _series("vllm:gpu_prefix_cache_hit_rate", "-1+0x20", **off),
    ]
    _evaluate(tmp_path, series, [(vllm.prefix_cache_hit_ratio(Scope(by=(MODEL,))), [({"model_name": "on"}, 0.4)])])


def test_failed_ratio_counts_aborted_and_errored_requests(tmp_path):
    labels = {"model_name": "m"}
    series = [
        _series("vllm:request_success_total", "0+30x20", finished_reason="stop", **labels),
        _series("vllm:request_success_total", "0+15x20", finished_reason="length", **labels),
        _series("vllm:request_success_total", "0+9x20", finished_reason="abort", **labels),
        _series("vllm:request_success_total", "0+6x20", finished_reason="error", **labels),
    ]
    _evaluate(tmp_path, series, [(vllm.failed_ratio(Scope(by=(MODEL,))), [(labels, 0.25)])])


def test_swapped_requests_come_from_v0_pods_and_v1_pods_count_zero(tmp_path):
    """One model on a V0 pod (3 swapped) and a V1 pod (no swap gauge): 3 for the model, 0 for the V1 pod."""
    v0, v1 = {"model_name": "m", "pod": "v0"}, {"model_name": "m", "pod": "v1"}
    assert "vllm:num_requests_swapped" in versions()["v0.6.6.post1"].default
    assert "vllm:num_requests_swapped" not in versions()["v0.8.5.post1"].default
    series = [
        _series("vllm:num_requests_swapped", "3+0x20", **v0),
        _series("vllm:num_requests_running", "4+0x20", **v0),
        _series("vllm:num_requests_running", "5+0x20", **v1),
    ]
    _evaluate(
        tmp_path,
        series,
        [
            (vllm.swapped(Scope(by=(MODEL,))), [({"model_name": "m"}, 3)]),
            (vllm.swapped(Scope(by=(MODEL, POD))), [(v0, 3), (v1, 0)]),
        ],
    )
