"""Where the model servers run (`nodePools`, `compute`): the GPU table, the node pools, ACS serverless GPU.

GPU capacity comes from a GPU node pool or from ACS serverless GPU (`compute.mode`); the checks here make sure
every model fits the GPUs it gets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from pydantic import Field, field_validator, model_validator

from components.vocabulary import ComputeMode
from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel
from stacks.settings.cluster import cluster_mode

if TYPE_CHECKING:
    from stacks.settings.models import ModelSettings
    from stacks.settings.stack import StackSettings


class Gpu(NamedTuple):
    model: str
    memory_gib: int


# ECS GPU instance families by the GPU they carry (ECS naming: v = V100 16 GB, e = V100 32 GB; ACK's inference
# tutorial: gn6i = T4 16 GB is too small, gn7i = A10 24 GB). A family not listed here needs `gpuMemoryGib`.
GPU_FAMILIES: dict[str, Gpu] = {
    "gn6i": Gpu("NVIDIA T4", 16),
    "gn6v": Gpu("NVIDIA V100", 16),
    "gn6e": Gpu("NVIDIA V100", 32),
    "gn7i": Gpu("NVIDIA A10", 24),
    "gn8is": Gpu("NVIDIA L20", 48),
}
# ACS GPU model series (pod label `alibabacloud.com/gpu-model-series`). ACK recommends GN8IS for this sample.
ACS_GPU_SERIES: dict[str, Gpu] = {"GN8IS": Gpu("NVIDIA L20", 48)}

# ecs.<family>[-c<vCPUs per GPU>g1 | -<GPUs>x].<n>xlarge, where n xlarge = 4n vCPUs.
_INSTANCE_TYPE = re.compile(
    r"^ecs\.(?P<family>[a-z]+[0-9]+[a-z]*)(?:-c(?P<vcpus_per_gpu>\d+)g1|-(?P<gpus>\d+)x)?\.(?P<size>\d*)xlarge$"
)


def gpu_family(instance_type: str) -> Gpu | None:
    match = _INSTANCE_TYPE.match(instance_type)
    return GPU_FAMILIES.get(match["family"]) if match else None


def gpus_in(instance_type: str) -> int | None:
    """GPUs per instance, read from the type name; None when the name does not say."""
    match = _INSTANCE_TYPE.match(instance_type)
    if match is None:
        return None
    if match["gpus"]:
        return int(match["gpus"])
    if match["vcpus_per_gpu"]:
        vcpus = 4 * int(match["size"] or 1)
        per_gpu = int(match["vcpus_per_gpu"])
        return vcpus // per_gpu if vcpus % per_gpu == 0 else None
    return 1


class SystemPoolSettings(ConfigModel):
    instance_types: list[str] = Field(
        default_factory=lambda: ["ecs.g7.xlarge", "ecs.g6.xlarge"],
        min_length=1,
        max_length=10,
        description="CPU instance types, tried in order.",
    )
    size: int = Field(2, ge=2, le=50, description="Nodes (fixed; at least 2 for system pods and the gateway).")
    system_disk_gib: int = Field(120, ge=40, le=2048, description="ESSD system disk per node, GiB.")


class GpuPoolSettings(ConfigModel):
    instance_types: list[str] = Field(
        default_factory=lambda: ["ecs.gn7i-c8g1.2xlarge"],
        min_length=1,
        max_length=10,
        description="GPU instance types, tried in order; each must fit every model (GPU memory and count).",
    )
    min_size: int = Field(1, ge=0, le=100, description="Autoscaling minimum nodes.")
    max_size: int = Field(2, ge=1, le=100, description="Autoscaling maximum nodes.")
    system_disk_gib: int = Field(
        200, ge=100, le=2048, description="ESSD system disk per node, GiB (model-server images are many GB)."
    )
    spot: bool = Field(False, description="Use preemptible (spot) instances at market price.")
    nvidia_driver_version: str | None = Field(
        None,
        pattern=r"^\d+\.\d+(\.\d+)?$",
        description="Pin the NVIDIA driver (e.g. `550.144.03`); applies to nodes added afterwards.",
    )
    gpu_memory_gib: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="GPU memory per GPU for instance types whose family is not in the known table (required for them).",
    )
    gpus_per_node: int | None = Field(
        None,
        ge=1,
        le=16,
        description="GPUs per node, for instance types whose name does not tell (e.g. bare metal).",
    )

    @field_validator("instance_types")
    @classmethod
    def _ecs_types(cls, types: list[str]) -> list[str]:
        if any(not t.startswith("ecs.") for t in types):
            raise ValueError("every entry must be an ECS instance type (`ecs.<family>.<size>`)")
        return types

    @model_validator(mode="after")
    def _size_range(self) -> GpuPoolSettings:
        if self.min_size > self.max_size:
            raise ValueError("minSize must not be larger than maxSize")
        return self


class NodePoolsSettings(ConfigModel):
    system: SystemPoolSettings = Field(
        default_factory=SystemPoolSettings, description="CPU pool for system pods, the gateway and the endpoint picker."
    )
    gpu: GpuPoolSettings = Field(
        default_factory=GpuPoolSettings, description="GPU pool for the model servers (`compute.mode: nodePool`)."
    )
    key_pair_name: str | None = Field(
        None, description="Existing ECS key pair for SSH to nodes; default: no SSH login."
    )


class AcsSettings(ConfigModel):
    gpu_model_series: str = Field(
        "GN8IS",
        pattern=r"^[A-Z0-9][A-Z0-9-]*$",
        description="ACS GPU model series (pod label `alibabacloud.com/gpu-model-series`).",
    )
    gpu_memory_gib: int | None = Field(
        None, ge=1, le=1024, description="GPU memory of a series not in the known table (required for it)."
    )


class ComputeSettings(ConfigModel):
    mode: ComputeMode = Field(
        "nodePool",
        description="`nodePool`: model servers run on the GPU node pool. `acs`: on ACS serverless GPU through "
        "the `ack-virtual-node` add-on (ACS GPU is an invitational preview: open a ticket first).",
    )
    acs: AcsSettings = Field(default_factory=AcsSettings, description="ACS serverless GPU (`mode: acs`).")


def gpu_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    # Simulator model servers run on CPU and need no GPU.
    models = [(index, model) for index, model in enumerate(settings.models) if model.mode == "vllm"]
    if settings.compute.mode == "acs":
        acs = settings.compute.acs
        known = ACS_GPU_SERIES.get(acs.gpu_model_series)
        memory = known.memory_gib if known else acs.gpu_memory_gib
        if memory is None:
            yield ConfigProblem(
                ("compute", "acs", "gpuMemoryGib"),
                f"is required for a GPU series not in the known table ({', '.join(sorted(ACS_GPU_SERIES))})",
            )
            return
        yield from _memory_problems(models, memory, ("compute", "acs", "gpuModelSeries"))
        return
    if cluster_mode(settings) != "new":
        return  # the GPU nodes of a cluster we did not create are not known here
    pool = settings.node_pools.gpu
    base = ("nodePools", "gpu")
    smallest_count = None
    for index, instance_type in enumerate(pool.instance_types):
        loc = (*base, "instanceTypes", index)
        family = gpu_family(instance_type)
        memory = family.memory_gib if family else pool.gpu_memory_gib
        if memory is None:
            yield ConfigProblem(
                (*base, "gpuMemoryGib"),
                f"is required: `{instance_type}` is not a known GPU family "
                f"({', '.join(sorted(GPU_FAMILIES))}); state the GPU memory per GPU in GiB",
            )
        else:
            yield from _memory_problems(models, memory, loc, instance_type)
        count = pool.gpus_per_node or gpus_in(instance_type)
        if count is None:
            yield ConfigProblem(
                (*base, "gpusPerNode"), f"is required: the name `{instance_type}` does not tell how many GPUs it has"
            )
            continue
        smallest_count = count if smallest_count is None else min(smallest_count, count)
        for model_index, model in models:
            if model.gpus_per_replica > count:
                yield ConfigProblem(
                    loc,
                    f"has {count} GPU(s) per node but models[{model_index}] needs {model.gpus_per_replica} per replica",
                )
    if smallest_count is not None:
        # Autoscaled servers count at `maxReplicas`: the pool's autoscaler must have room for every pod the HPA adds.
        needed = sum(m.peak_replicas * m.gpus_per_replica for _, m in models)
        if needed > pool.max_size * smallest_count:
            autoscaled = (
                " (autoscaled ones at `autoscaling.maxReplicas`)"
                if any(m.autoscaling.enabled for _, m in models)
                else ""
            )
            yield ConfigProblem(
                (*base, "maxSize"),
                f"allows at most {pool.max_size * smallest_count} GPU(s) but the models need {needed}{autoscaled}",
            )


def _memory_problems(
    models: Sequence[tuple[int, ModelSettings]], memory: int, loc: tuple[str | int, ...], what: str = ""
) -> Iterator[ConfigProblem]:
    for index, model in models:
        if model.gpu_memory_gib_needed > memory:
            subject = f"`{what}` has" if what else "has"
            yield ConfigProblem(
                loc,
                f"{subject} {memory} GiB per GPU but models[{index}] needs {model.gpu_memory_gib_needed} GiB; "
                "choose a GPU with more memory",
            )
