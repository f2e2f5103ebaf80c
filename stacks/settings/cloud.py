"""Cloud foundation settings: the checks across network, ACK cluster, node pools, compute and add-ons.

The models live by subject: `network`, `cluster`, `compute` (GPU table, node pools, ACS) and `addons`. Three
ways to get a cluster (`cluster.mode`): create one (`new`), use an ACK cluster by id (`existing`), or use any
conformant cluster through the root `kubeconfig` secret (`kubeconfig`). GPU capacity comes from a GPU node
pool or from ACS serverless GPU (`compute.mode`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from stacks.errors import ConfigProblem
from stacks.settings.cluster import NEW_CLUSTER_FIELDS, cidr_problems, cluster_mode
from stacks.settings.compute import NodePoolsSettings, gpu_problems
from stacks.settings.formats import camel
from stacks.settings.network import NetworkSettings, network_problems

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

_RESERVED_TAG_PREFIXES = ("aliyun", "acs:")
# Tag keys the alicloud provider drops when it reads tags back (terraform-provider-alicloud `tags.go:166`,
# `resource_alicloud_cs_kubernetes.go:1700`, `service_alicloud_cs.go:48`): such a tag is re-sent on every update
# and never converges.
_DROPPED_TAG_KEYS = ("ack.aliyun.com", "ack.playeraccount")
_DROPPED_TAG_PREFIXES = ("sae.do.not.delete",)


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    yield from _mode_problems(settings)
    if cluster_mode(settings) == "new":
        yield from network_problems(settings)
        yield from cidr_problems(settings)
        if settings.cluster.api_endpoint == "private":
            # pulumi-alicloud's `cs.get_cluster_credential` asks ACK for the kubeconfig with
            # `PrivateIpAddress=false` (terraform-provider-alicloud service_alicloud_cs.go): always the public one.
            yield ConfigProblem(
                ("cluster", "apiEndpoint"),
                "`private` is refused: the provider's `get_cluster_credential` only returns the kubeconfig of the "
                "public endpoint, which a private cluster does not have, so Pulumi could not deploy the workloads; "
                "keep `public` (restrict it with the API server SLB's access control), or deploy into a private "
                "cluster with `cluster.mode: kubeconfig` and its internal kubeconfig from inside the VPC",
            )
    yield from gpu_problems(settings)
    yield from _tag_problems(settings.tags)


def _mode_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    cluster, mode = settings.cluster, cluster_mode(settings)
    if mode == "existing" and cluster.id is None:
        yield ConfigProblem(("cluster", "id"), "is required with `cluster.mode: existing` (the ACK cluster id)")
    if mode != "existing" and cluster.id is not None:
        yield ConfigProblem(("cluster", "id"), "is only used with `cluster.mode: existing`")
    if mode == "kubeconfig" and settings.kubeconfig is None:
        yield ConfigProblem(
            ("kubeconfig",),
            "is required with `cluster.mode: kubeconfig`; set it with "
            "`pulumi config set --secret kubeconfig < kubeconfig.yaml`",
        )
    if mode != "kubeconfig" and settings.kubeconfig is not None:
        yield ConfigProblem(("kubeconfig",), "is only used with `cluster.mode: kubeconfig`")
    if mode == "kubeconfig" and settings.addons.manage:
        yield ConfigProblem(
            ("addons", "manage"), "needs an ACK cluster; with `cluster.mode: kubeconfig` install them yourself"
        )
    if mode == "new" and settings.addons.manage is False:
        yield ConfigProblem(("addons", "manage"), "must stay on for a new cluster (the gateway add-ons are needed)")
    compute_mode = settings.compute.mode
    if compute_mode == "acs" and "gpu" in settings.node_pools.model_fields_set:
        yield ConfigProblem(("nodePools", "gpu"), "is only used with `compute.mode: nodePool` (mode is `acs`)")
    if compute_mode == "nodePool" and "acs" in settings.compute.model_fields_set:
        yield ConfigProblem(("compute", "acs"), "is only used with `compute.mode: acs`")
    if mode != "new":
        creation_only = {
            "network": settings.network != NetworkSettings(),
            "nodePools": settings.node_pools != NodePoolsSettings(),
        }
        for key, changed in creation_only.items():
            if changed:
                yield ConfigProblem((key,), f"is only used with `cluster.mode: new` (mode is `{mode}`)")
        for field in sorted(cluster.model_fields_set & NEW_CLUSTER_FIELDS):
            yield ConfigProblem(("cluster", camel(field)), f"is only used with `cluster.mode: new` (mode is `{mode}`)")
    if mode == "kubeconfig" and cluster.kubeconfig_ttl_minutes is not None:
        yield ConfigProblem(("cluster", "kubeconfigTtlMinutes"), "is for a kubeconfig fetched from ACK")


def _tag_problems(tags: dict[str, str]) -> Iterator[ConfigProblem]:
    for key, value in tags.items():
        if key in _DROPPED_TAG_KEYS or key.startswith(_DROPPED_TAG_PREFIXES):
            yield ConfigProblem(
                ("tags",),
                "has a key the provider drops when it reads tags back (`ack.aliyun.com`, `ack.playeraccount`, "
                "`sae.do.not.delete...`), so it would be re-applied on every update; use another key",
            )
        if not 1 <= len(key) <= 128 or key.lower().startswith(_RESERVED_TAG_PREFIXES) or "://" in key:
            yield ConfigProblem(
                ("tags",),
                "has an invalid key: keys are 1-128 characters, must not start with `aliyun` or `acs:` and must "
                "not contain `://`",
            )
        if len(value) > 128 or value.lower().startswith(_RESERVED_TAG_PREFIXES) or "://" in value:
            yield ConfigProblem(
                ("tags",),
                "has an invalid value: values are at most 128 characters, must not start with `aliyun` or `acs:` "
                "and must not contain `://`",
            )
