"""vLLM's Prometheus metrics from v0.6.6 to v0.33.0, and the PromQL that keeps working across their renames.

The one place that knows metric names: the dashboard and the alert rules build every query from here.

Names are as they appear on `/metrics`: counters end in `_total` (prometheus_client adds it even where vLLM
declares the name without it), histograms are read through `<name>_bucket`, `<name>_sum` and `<name>_count`,
gauges are bare. Where vLLM renamed a metric, a concept lists every name, newest first:

- `vllm:gpu_cache_usage_perc` became `vllm:kv_cache_usage_perc` (added 0.9.2, old name hidden 0.11, gone 0.12);
- `vllm:time_per_output_token_seconds` became `vllm:inter_token_latency_seconds` (added 0.10.2, old gone 0.15);
- `vllm:gpu_prefix_cache_{queries,hits}_total` became `vllm:prefix_cache_{queries,hits}_total` (0.9.2 / 0.12),
  and V0 only had the `vllm:gpu_prefix_cache_hit_rate` gauge.

A query resolves the names per pod first: it aggregates each name by pod (`namespace`, `pod`, `model_name` and
the query's own grouping) and keeps, for each pod, the newest name that pod exports
(`new or (old unless on(pod) new)`), and only then aggregates the pods per model (or fleet). So a release that
exports both names (0.10.2) is never counted twice, `histogram_quantile` never sees buckets of two histograms
mixed on one pod, and a model served by pods of two releases (a canary on a newer image) counts every pod:
resolving per model instead would drop the older pods' series wherever one newer pod exports the new name.

Only labels that every version has are used: `model_name` (V1 adds `engine` from 0.8.3, which we never rely on)
and the target labels the scrape job attaches (`namespace`, `pod`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

MODEL = "model_name"
NAMESPACE = "namespace"
POD = "pod"
FINISHED_REASON = "finished_reason"
# Finish reasons that mean the client got no complete answer (`error` exists in newer releases only).
FAILED_REASONS = ("abort", "error")

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


@dataclass(frozen=True)
class Metric:
    """One concept; `names` newest first, as exposed (counters with `_total`, histograms by base name)."""

    kind: Literal["gauge", "counter", "histogram"]
    names: tuple[str, ...]

    @property
    def samples(self) -> tuple[str, ...]:
        """The series names queries read."""
        suffixes = HISTOGRAM_SUFFIXES if self.kind == "histogram" else ("",)
        return tuple(name + suffix for name in self.names for suffix in suffixes)


REQUESTS_RUNNING = Metric("gauge", ("vllm:num_requests_running",))
REQUESTS_WAITING = Metric("gauge", ("vllm:num_requests_waiting",))
# V0 only: requests whose KV blocks were swapped to CPU memory. The V1 engine never swaps (it recomputes
# preempted requests), so on V1 pods the count is zero by construction.
REQUESTS_SWAPPED = Metric("gauge", ("vllm:num_requests_swapped",))
KV_CACHE_USAGE = Metric("gauge", ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"))
PROMPT_TOKENS = Metric("counter", ("vllm:prompt_tokens_total",))
GENERATION_TOKENS = Metric("counter", ("vllm:generation_tokens_total",))
PREEMPTIONS = Metric("counter", ("vllm:num_preemptions_total",))
# Every finished request, labelled `finished_reason` (stop, length, abort, and error in newer releases).
REQUESTS_FINISHED = Metric("counter", ("vllm:request_success_total",))
PREFIX_CACHE_QUERIES = Metric("counter", ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"))
PREFIX_CACHE_HITS = Metric("counter", ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"))
# V0's own hit rate (0..1; negative while prefix caching is off).
PREFIX_CACHE_HIT_RATE_V0 = Metric("gauge", ("vllm:gpu_prefix_cache_hit_rate",))
TIME_TO_FIRST_TOKEN = Metric("histogram", ("vllm:time_to_first_token_seconds",))
INTER_TOKEN_LATENCY = Metric("histogram", ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"))
E2E_LATENCY = Metric("histogram", ("vllm:e2e_request_latency_seconds",))
QUEUE_TIME = Metric("histogram", ("vllm:request_queue_time_seconds",))
PREFILL_TIME = Metric("histogram", ("vllm:request_prefill_time_seconds",))
DECODE_TIME = Metric("histogram", ("vllm:request_decode_time_seconds",))

CATALOGUE: dict[str, Metric] = {
    "requests_running": REQUESTS_RUNNING,
    "requests_waiting": REQUESTS_WAITING,
    "requests_swapped": REQUESTS_SWAPPED,
    "kv_cache_usage": KV_CACHE_USAGE,
    "prompt_tokens": PROMPT_TOKENS,
    "generation_tokens": GENERATION_TOKENS,
    "preemptions": PREEMPTIONS,
    "requests_finished": REQUESTS_FINISHED,
    "prefix_cache_queries": PREFIX_CACHE_QUERIES,
    "prefix_cache_hits": PREFIX_CACHE_HITS,
    "prefix_cache_hit_rate_v0": PREFIX_CACHE_HIT_RATE_V0,
    "time_to_first_token": TIME_TO_FIRST_TOKEN,
    "inter_token_latency": INTER_TOKEN_LATENCY,
    "e2e_latency": E2E_LATENCY,
    "queue_time": QUEUE_TIME,
    "prefill_time": PREFILL_TIME,
    "decode_time": DECODE_TIME,
}


@dataclass(frozen=True)
class Scope:
    """Which series a query reads (label matchers, no braces), how it groups them, over what rate window.

    Alternatives are always chosen per pod (`selection`), so pods of different vLLM releases, in one model or
    across models, are all counted; the per-pod results are then aggregated to `by`.
    """

    by: tuple[str, ...] = (MODEL,)
    matchers: str = ""
    window: str = "5m"

    @property
    def selection(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.by, NAMESPACE, POD, MODEL)))

    def select(self, series: str, extra: str = "") -> str:
        matchers = ", ".join(part for part in (self.matchers, extra) if part)
        return f"{series}{{{matchers}}}" if matchers else series

    def sum_rate(self, series: str, extra: str = "", by: Sequence[str] = ()) -> str:
        return f"{aggregate('sum', by)}(rate({self.select(series, extra)}[{self.window}]))"

    def regroup(self, operator: str, per_pod: str, keep: Sequence[str] = ()) -> str:
        """`per_pod` aggregated down to `by` (plus `keep`), unless it is already grouped that way."""
        if set(self.selection) <= set(self.by):
            return per_pod
        return f"{aggregate(operator, (*keep, *self.by))}({per_pod})"


def aggregate(operator: str, by: Sequence[str]) -> str:
    return f"{operator} by ({', '.join(by)}) " if by else f"{operator} "


def newest(alternatives: Sequence[str], on: Sequence[str]) -> str:
    """Per group of `on` labels, the first alternative that has data (parenthesised when there are several)."""
    if len(alternatives) == 1:
        return alternatives[0]
    parts = [alternatives[0]]
    for index, alternative in enumerate(alternatives[1:], start=1):
        earlier = " or ".join(f"({prior})" for prior in alternatives[:index]) if index > 1 else alternatives[0]
        parts.append(f"({alternative} unless on ({', '.join(on)}) ({earlier}))")
    return "(" + " or ".join(parts) + ")"


def gauge(metric: Metric, operator: Literal["max", "sum"], scope: Scope) -> str:
    """The largest or the total value of a gauge per group."""
    per_pod = [f"{aggregate(operator, scope.selection)}({scope.select(name)})" for name in metric.names]
    return scope.regroup(operator, newest(per_pod, scope.selection))


def rate(metric: Metric, scope: Scope, extra: str = "", suffix: str = "") -> str:
    """Per-second increase of a counter (of a histogram's `_sum` or `_count` with `suffix`), summed per group."""
    per_pod = [scope.sum_rate(name + suffix, extra, scope.selection) for name in metric.names]
    return scope.regroup("sum", newest(per_pod, scope.selection))


def quantile(q: float, metric: Metric, scope: Scope) -> str:
    """The q-quantile of a histogram per group; buckets are summed by `le` per name before names are combined."""
    buckets = [scope.sum_rate(f"{name}_bucket", by=("le", *scope.selection)) for name in metric.names]
    combined = scope.regroup("sum", newest(buckets, scope.selection), keep=("le",))
    return f"histogram_quantile({q}, {combined})"


def mean(metric: Metric, scope: Scope) -> str:
    """Mean observation of a histogram per group (e.g. seconds per request)."""
    return f"{rate(metric, scope, suffix='_sum')} / {rate(metric, scope, suffix='_count')}"


def finished_rate(scope: Scope, reasons: Sequence[str] = ()) -> str:
    """Finished requests per second, optionally only those with one of `reasons`."""
    extra = f'{FINISHED_REASON}=~"{"|".join(reasons)}"' if reasons else ""
    return rate(REQUESTS_FINISHED, scope, extra)


def failed_ratio(scope: Scope) -> str:
    """Share of finished requests that were aborted or failed."""
    return f"{finished_rate(scope, FAILED_REASONS)} / {finished_rate(scope)}"


def prefix_cache_hit_ratio(scope: Scope) -> str:
    """Prefix-cache hits per lookup, per model: V1 counters (either name, resolved per pod), else V0's own gauge."""
    groups = tuple(dict.fromkeys((*scope.by, MODEL)))
    per_model = Scope(groups, scope.matchers, scope.window)
    counters = f"{rate(PREFIX_CACHE_HITS, per_model)} / {rate(PREFIX_CACHE_QUERIES, per_model)}"
    # V0 reports a negative rate while prefix caching is off; that is no data, not a hit rate.
    v0_gauge = f"{aggregate('max', groups)}({per_model.select(PREFIX_CACHE_HIT_RATE_V0.names[0])} >= 0)"
    return newest([counters, v0_gauge], groups)


def swapped(scope: Scope) -> str:
    """Requests swapped out to CPU memory per group: V0 pods' own gauge, zero for pods that do not export it
    (the V1 engine never swaps), so the series exists on every version."""
    exported = f"{aggregate('sum', scope.selection)}({scope.select(REQUESTS_SWAPPED.names[0])})"
    never = f"0 * {aggregate('sum', scope.selection)}({scope.select(REQUESTS_RUNNING.names[0])})"
    return scope.regroup("sum", newest([exported, never], scope.selection))
