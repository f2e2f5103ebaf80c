"""Autoscaling of a model server (`models[].autoscaling`) and the replica floors it shares with fixed counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field

from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel

if TYPE_CHECKING:
    from stacks.settings.models import ModelSettings
    from stacks.settings.stack import StackSettings

# A production model server keeps serving through a rollout or the loss of one node.
PRODUCTION_MIN_REPLICAS = 2
# What an adapter rule that renames `vllm:<name>` to `vllm_<name>` serves; docs/models-and-routing.md shows that rule.
DEFAULT_WAITING_METRIC = "vllm_num_requests_waiting"


class AutoscalingSettings(ConfigModel):
    enabled: bool = Field(
        False,
        description="Scale this model server with a HorizontalPodAutoscaler on its waiting-queue depth per pod "
        "(a Pods metric from ACK's `ack-alibaba-cloud-metrics-adapter`, which must serve `metricName`); the GPU "
        "pool's autoscaler adds nodes for the pods. `replicas` must then stay unset: the autoscaler owns the count.",
    )
    min_replicas: int = Field(1, ge=1, le=64, description="Fewest pods (also the count at creation).")
    max_replicas: int = Field(
        2, ge=1, le=64, description="Most pods; the GPU node pool's `maxSize` must have room for them."
    )
    target_waiting_requests: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Waiting requests per pod (`vllm:num_requests_waiting`, averaged over the pods) the "
        "autoscaler holds the server at: more adds pods, less removes them.",
    )
    metric_name: str = Field(
        DEFAULT_WAITING_METRIC,
        max_length=200,
        pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$",
        description="Name under which the metrics adapter serves `vllm:num_requests_waiting` per pod "
        "(custom.metrics.k8s.io); it depends on the adapter's rules (see docs/models-and-routing.md, Autoscaling).",
    )


def autoscaling_problems(settings: StackSettings, index: int, model: ModelSettings) -> Iterator[ConfigProblem]:
    autoscaling = model.autoscaling
    loc = ("models", index, "autoscaling")
    floor = (*loc, "minReplicas") if autoscaling.enabled else ("models", index, "replicas")
    lowest = autoscaling.min_replicas if autoscaling.enabled else model.replicas
    if settings.production and model.mode == "vllm" and lowest < PRODUCTION_MIN_REPLICAS:
        yield ConfigProblem(
            floor,
            f"must be at least {PRODUCTION_MIN_REPLICAS} with `tier: production`, so that a rollout or the "
            "loss of a node never takes the model offline",
        )
    if not autoscaling.enabled:
        return
    if autoscaling.min_replicas > autoscaling.max_replicas:
        yield ConfigProblem((*loc, "maxReplicas"), "must be at least `minReplicas`")
    if "replicas" in model.model_fields_set:
        yield ConfigProblem(
            ("models", index, "replicas"),
            "is owned by the autoscaler when `autoscaling.enabled` is on; remove it and set "
            "`autoscaling.minReplicas`/`maxReplicas` instead",
        )
