"""Whether the nodes can reach what the stack pulls: images and downloaded weights, from the stack's region.

Without outbound internet (a new VPC with `network.natGateway: false`) a node reaches only Alibaba Cloud's VPC
endpoints: ACR's `registry-vpc` domains and OSS's `-internal` endpoints; an image from Docker Hub or weights from
Hugging Face or ModelScope never arrive and `pulumi up` waits out the rollout timeout, so that is an error. In a
mainland-China region Docker Hub and the Hugging Face Hub are often slow or unreachable (ACK advises copying the
image to ACR and pulling it through the VPC endpoint): a warning at preview, with the alternative.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from stacks.errors import ConfigProblem
from stacks.settings.cluster import cluster_mode
from stacks.settings.sources import DOWNLOADED_SOURCES, in_mainland_china

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

# An image reference without a registry host is Docker Hub's (the distribution reference grammar: the first
# component is a host only if it contains `.` or `:` or is `localhost`).
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
# ACR's VPC endpoints, reachable without internet: Personal Edition `registry-vpc.<region>.aliyuncs.com`,
# Enterprise Edition `<instance>-registry-vpc.<region>.cr.aliyuncs.com` (ACR docs, "Access an instance over a VPC").
VPC_REGISTRY = re.compile(
    r"^(registry-vpc\.[a-z0-9-]+\.aliyuncs\.com|[a-z0-9-]+-registry-vpc\.[a-z0-9-]+\.cr\.aliyuncs\.com)$"
)
# OSS internal endpoints (`oss-<region>-internal.aliyuncs.com`) are reachable from the VPC without internet.
INTERNAL_OSS = re.compile(r"^oss-[a-z0-9-]+-internal\.aliyuncs\.com$")
ACR_HINT = "copy the image to ACR and pull it through the VPC endpoint (`registry-vpc.<region>.aliyuncs.com/...`)"
WEIGHTS_HINT = "take the weights from ModelScope (`source.type: modelScope`), OSS (`source.type: oss`) or an image"


def registry_host(image: str) -> str:
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def from_docker_hub(image: str) -> bool:
    return registry_host(image) in DOCKER_HUB_HOSTS


def needs_internet(image: str) -> bool:
    return VPC_REGISTRY.match(registry_host(image)) is None


def without_internet(settings: StackSettings) -> bool:
    """A new VPC without a NAT gateway: the nodes have no route to the internet."""
    network = settings.network
    return cluster_mode(settings) == "new" and network.vpc_id is None and network.nat_gateway is False


def pulled_images(settings: StackSettings) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every image the stack's pods pull, with its key."""
    for index, model in enumerate(settings.models):
        if model.mode == "simulator":
            yield ("models", index, "simulatorImage"), model.simulator_image
        else:
            yield ("models", index, "image"), model.image
    if settings.benchmark.enabled and settings.benchmark.image is not None:
        yield ("benchmark", "image"), settings.benchmark.image
    picker = settings.routing.endpoint_picker
    if picker.mode == "selfHosted":
        yield ("routing", "endpointPicker", "image"), picker.image


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    if not without_internet(settings):
        return
    reason = "needs the internet, but `network.natGateway: false` leaves the nodes without it"
    for loc, image in pulled_images(settings):
        if needs_internet(image):
            yield ConfigProblem(loc, f"{reason}; {ACR_HINT}, or turn the NAT gateway on")
    for index, model in enumerate(settings.models):
        source = model.source
        if model.mode != "vllm":
            continue
        if source.type in DOWNLOADED_SOURCES:
            yield ConfigProblem(
                ("models", index, "source", "type"),
                f"`{source.type}` downloads the weights from the internet, but `network.natGateway: false` leaves "
                "the nodes without it; use `source.type: oss` with an internal endpoint or `baked` with an ACR "
                "image, or turn the NAT gateway on",
            )
        if source.type == "oss" and source.endpoint and not INTERNAL_OSS.match(source.endpoint):
            yield ConfigProblem(
                ("models", index, "source", "endpoint"),
                f"{reason}; use the internal endpoint `oss-<region>-internal.aliyuncs.com`",
            )


def warnings(settings: StackSettings) -> Iterator[ConfigProblem]:
    if not in_mainland_china(settings.region) or without_internet(settings):
        return
    where = f"from `{settings.region}` (mainland China)"
    for loc, image in pulled_images(settings):
        if from_docker_hub(image):
            yield ConfigProblem(loc, f"comes from Docker Hub, often slow or unreachable {where}; {ACR_HINT}")
    for index, model in enumerate(settings.models):
        if model.mode == "vllm" and model.source.type == "huggingFace":
            yield ConfigProblem(
                ("models", index, "source", "type"),
                f"`huggingFace`: the Hugging Face Hub is often slow or unreachable {where}; {WEIGHTS_HINT}",
            )
