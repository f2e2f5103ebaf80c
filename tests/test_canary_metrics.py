"""One model served by pods of two vLLM releases (the stable/canary pattern after the canary's image is bumped):
the dashboard's queries, run by `promtool test rules`, count both pods although each exports its own names for
the renamed metrics (0.8.5 the old names, 0.33 the new ones)."""

from __future__ import annotations

import pytest

from dashboards.vllm_inference import scope
from metrics import vllm
from metrics.vllm import MODEL
from tests.promtool.support import grafana_free, run_promtool, version_metrics, write_yaml

NAMESPACE = "llm"
MODEL_NAME = "meta-llama/Llama-2-7b-hf"
STABLE = ("v0.8.5.post1", "vllm-stable-6d4f9b7c8d-aaaaa")
CANARY = ("v0.33.0", "vllm-canary-7c9d8e6f5b-bbbbb")
MINUTES = 20
BUCKETS = (0.25, 0.5, 1.0)


def series(version: str, pod: str, metric: vllm.Metric, values: str, suffix: str = "", **extra: str) -> dict:
    """`metric` under the one name `version` exports (asserted: the point is that the two pods differ)."""
    exported = version_metrics(version).default
    names = [name for name in metric.names if name + suffix in exported]
    assert len(names) == 1, (version, metric.names)
    labels = {MODEL: MODEL_NAME, "namespace": NAMESPACE, "pod": pod, **extra}
    rendered = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{names[0]}{suffix}{{{rendered}}}", "values": values}


def pod_series(version: str, pod: str, *, kv: float, queries: int, hits: int, latency: float) -> list[dict]:
    """Per minute: `queries` prefix-cache lookups with `hits` hits, 60 inter-token observations of `latency`."""
    found = [
        series(version, pod, vllm.KV_CACHE_USAGE, f"{kv}+0x{MINUTES}"),
        series(version, pod, vllm.PREFIX_CACHE_QUERIES, f"0+{queries}x{MINUTES}"),
        series(version, pod, vllm.PREFIX_CACHE_HITS, f"0+{hits}x{MINUTES}"),
        series(version, pod, vllm.INTER_TOKEN_LATENCY, f"0+60x{MINUTES}", "_count"),
        series(version, pod, vllm.INTER_TOKEN_LATENCY, f"0+{60 * latency}x{MINUTES}", "_sum"),
    ]
    for bound in (*BUCKETS, "+Inf"):
        count = 60 if bound == "+Inf" or latency <= bound else 0
        found.append(series(version, pod, vllm.INTER_TOKEN_LATENCY, f"0+{count}x{MINUTES}", "_bucket", le=str(bound)))
    return found


# The stable pod is the fuller one and hits its prefix cache more; the canary alone would hide both.
SERIES = [
    *pod_series(*STABLE, kv=0.875, queries=120, hits=90, latency=0.25),
    *pod_series(*CANARY, kv=0.25, queries=120, hits=30, latency=0.5),
]
PER_MODEL = scope(MODEL)
# Expected values, worked out from the series above (rates per second over both pods).
CASES = {
    # max(0.875, 0.25)
    "fullest KV cache": (vllm.gauge(vllm.KV_CACHE_USAGE, "max", PER_MODEL), 0.875),
    # (90 + 30) / (120 + 120) lookups a minute
    "prefix-cache hit ratio": (vllm.prefix_cache_hit_ratio(PER_MODEL), 0.5),
    # 60 + 60 observations a minute = 2 a second
    "inter-token observations / s": (vllm.rate(vllm.INTER_TOKEN_LATENCY, PER_MODEL, suffix="_count"), 2),
    # (60 * 0.25 + 60 * 0.5) / 120
    "inter-token mean": (vllm.mean(vllm.INTER_TOKEN_LATENCY, PER_MODEL), 0.375),
    # half the observations in (0, 0.25], half in (0.25, 0.5]: p75 is halfway through the second bucket
    "inter-token p75": (vllm.quantile(0.75, vllm.INTER_TOKEN_LATENCY, PER_MODEL), 0.375),
}


@pytest.mark.parametrize("case", CASES)
def test_both_pods_of_a_model_count(case, tmp_path):
    expr, value = CASES[case]
    rules_file = write_yaml(tmp_path / "rules.yml", {"groups": []})
    tests_file = write_yaml(
        tmp_path / "tests.yml",
        {
            "rule_files": [rules_file.name],
            "tests": [
                {
                    "interval": "1m",
                    "input_series": SERIES,
                    "promql_expr_test": [
                        {
                            "expr": grafana_free(expr),
                            "eval_time": "15m",
                            "exp_samples": [{"labels": f'{{{MODEL}="{MODEL_NAME}"}}', "value": value}],
                        }
                    ],
                }
            ],
        },
    )
    result = run_promtool("test", "rules", tests_file)
    assert result.returncode == 0, f"{case}:\n{result.stdout}{result.stderr}"
