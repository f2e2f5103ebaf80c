"""Component argument rules that no stack setting can reach, so they are checked where the args are built."""

from __future__ import annotations

import pytest

from components.cloud.cluster_addons import AddonSpec, ClusterAddonsArgs
from components.cloud.kubernetes_access import KubernetesAccessArgs
from components.cloud.node_pool import Autoscaling, NodePoolArgs


def pool_args(**extra) -> NodePoolArgs:
    return NodePoolArgs(
        cluster_id="c1",
        pool_name="p",
        vswitch_ids=["vsw-1"],
        instance_types=["ecs.g7.xlarge"],
        system_disk_gib=40,
        **extra,
    )


def test_node_pool_is_either_fixed_or_autoscaled():
    pool_args(size=2)
    pool_args(autoscaling=Autoscaling(0, 2))
    with pytest.raises(ValueError, match="either a fixed size or autoscaling"):
        pool_args()
    with pytest.raises(ValueError, match="either a fixed size or autoscaling"):
        pool_args(size=2, autoscaling=Autoscaling(0, 2))


def test_addons_must_follow_what_they_need():
    first = AddonSpec(role="gateway-api", name="gateway-api", setting="s")
    second = AddonSpec(role="inference-gateway", name="gw", setting="s", after=("gateway-api",))
    ClusterAddonsArgs(cluster_id="c1", addons=[first, second])
    with pytest.raises(ValueError, match="inference-gateway must come after gateway-api"):
        ClusterAddonsArgs(cluster_id="c1", addons=[second, first])


def test_kubernetes_access_needs_exactly_one_source():
    KubernetesAccessArgs(cluster_identifier="c1", ack_cluster_id="c1")
    KubernetesAccessArgs(cluster_identifier="c1", kubeconfig="apiVersion: v1")
    with pytest.raises(ValueError, match="either an ACK cluster id or a kubeconfig"):
        KubernetesAccessArgs(cluster_identifier="c1")
    with pytest.raises(ValueError, match="either an ACK cluster id or a kubeconfig"):
        KubernetesAccessArgs(cluster_identifier="c1", ack_cluster_id="c1", kubeconfig="apiVersion: v1")
