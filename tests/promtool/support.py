"""vLLM's metric lists per version (from the data directory), what a PromQL expression needs, and promtool.

`has_data` decides, from the syntax tree alone, whether an expression returns series when only some metric names
exist: `a or b` needs either side, `a unless b` its left side, arithmetic and `and` both sides, `absent()`
always answers. That is how "every panel and rule has data on every vLLM version" is checked without a server.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import promql_parser
import yaml

from tests.conftest import VLLM_DIR

# Labels the scrape job adds to every target, not part of vLLM's own label sets.
TARGET_LABELS = {"namespace", "pod", "job", "instance", "container", "endpoint", "service"}
# Grafana variables and their stand-ins when a query is parsed outside Grafana.
GRAFANA_STAND_INS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


@dataclass(frozen=True)
class VersionMetrics:
    version: str
    # Series names exposed with default flags (the default engine, no optional features), with their labels.
    default: dict[str, frozenset[str]]
    # Every series name the version can expose.
    everything: frozenset[str]


@cache
def versions() -> dict[str, VersionMetrics]:
    found = {}
    for path in sorted(VLLM_DIR.glob("metrics-*.json")):
        data = json.loads(path.read_text())
        default: dict[str, set[str]] = {}
        everything = set()
        for metric in data["metrics"]:
            everything.update(metric["samples"])
            if metric["condition"].startswith(("always", "exposed always")):
                for sample in metric["samples"]:
                    default.setdefault(sample, set()).update(metric["labels"])
        found[data["vllm_version"]] = VersionMetrics(
            data["vllm_version"], {k: frozenset(v) for k, v in default.items()}, frozenset(everything)
        )
    assert found, f"no metrics-*.json in {VLLM_DIR} (set ACK_INFERENCE_VLLM)"
    return found


def version_metrics(vllm_version: str) -> VersionMetrics:
    """The list of a `vllmVersion` setting (`0.8.5.post1` is stored as `v0.8.5.post1`)."""
    key = vllm_version if vllm_version.startswith("v") else f"v{vllm_version}"
    assert key in versions(), f"no metric list for vLLM {vllm_version} in {VLLM_DIR}"
    return versions()[key]


def all_vllm_series() -> frozenset[str]:
    return frozenset().union(*(v.everything for v in versions().values()))


def grafana_free(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced so that it parses as PromQL."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: GRAFANA_STAND_INS.get(m[1], ".*"), expr)


def parse(expr: str) -> promql_parser.Expr:
    return promql_parser.parse(grafana_free(expr))


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(parse(expr), visit)
    return found


def metric_names(expr: str) -> set[str]:
    return {selector.name for selector in selectors(expr)}


def has_data(node, available: dict[str, frozenset[str]] | frozenset[str] | set[str]) -> bool:
    """Whether `node` returns series when only the `available` metric names exist (see the module doc)."""
    p = promql_parser
    if isinstance(node, str):
        node = parse(node)
    if isinstance(node, p.VectorSelector):
        return node.name in available
    if isinstance(node, p.MatrixSelector):
        return has_data(node.vector_selector, available)
    if isinstance(node, p.NumberLiteral | p.StringLiteral):
        return True
    if isinstance(node, p.ParenExpr | p.UnaryExpr | p.AggregateExpr | p.SubqueryExpr):
        return has_data(node.expr, available)
    if isinstance(node, p.Call):
        if node.func.name in ("absent", "absent_over_time", "vector", "time"):
            return True
        return all(has_data(arg, available) for arg in node.args)
    if isinstance(node, p.BinaryExpr):
        op = str(node.op)
        if op == "or":
            return has_data(node.lhs, available) or has_data(node.rhs, available)
        if op == "unless":
            return has_data(node.lhs, available)
        return has_data(node.lhs, available) and has_data(node.rhs, available)
    raise AssertionError(f"unhandled PromQL node {type(node).__name__}")


def unknown_labels(expr: str, metrics: VersionMetrics) -> list[str]:
    """Label matchers naming a label that the selected vLLM series does not carry in this version."""
    problems = []
    for selector in selectors(expr):
        labels = metrics.default.get(selector.name)
        if labels is None:
            continue
        for matcher in selector.matchers.matchers:
            if matcher.name not in labels | TARGET_LABELS:
                problems.append(f"{selector.name}{{{matcher.name}}}")
    return problems


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: install Debian's `prometheus` package (.ci/run does)"
    return path


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *map(str, args)], capture_output=True, text=True, timeout=120, check=False)


def write_yaml(path: Path, document: object) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    return path
