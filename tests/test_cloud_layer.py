"""The cloud layer in each mode, run under the shared provider mocks through a program that builds only it.

The program also registers two Kubernetes objects the way the other layers do (one custom resource that waits
for the CRD installers, one plain object that declares nothing), so provider use and ordering are checked on
real registrations. It stays valid when the other layers exist, because it never runs them.
"""

from __future__ import annotations

import functools
import json
import subprocess
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from stacks.config_loader import load_settings
from stacks.layers import CloudLayer
from stacks.layers.cloud import build_cloud
from tests.conftest import PROJECT_DIR
from tests.harness import plan_stack, stack_config
from tooling.offline.recording import SECRET, Plan, Registration
from tooling.offline.run import simulate
from tooling.offline.stack_files import UNDECRYPTED_SECRET

CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
NODE_POOL = "alicloud:cs/nodePool:NodePool"
ADDON = "alicloud:cs/kubernetesAddon:KubernetesAddon"
VPC = "alicloud:vpc/network:Network"
VSWITCH = "alicloud:vpc/switch:Switch"
NAT = "alicloud:vpc/natGateway:NatGateway"
EIP = "alicloud:ecs/eipAddress:EipAddress"
SNAT = "alicloud:vpc/snatEntry:SnatEntry"
K8S_PROVIDER = "pulumi:providers:kubernetes"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"

EXISTING_CLUSTER_ID = "c0123456789abcdef0123456789abcdef"
KUBECONFIG_TEXT = "apiVersion: v1\nkind: Config\nclusters: []\n# byo-cluster-credential-marker\n"


def _program(seen: list[CloudLayer]):
    def program() -> None:
        cloud = build_cloud(load_settings())
        seen.append(cloud)
        k8s.apiextensions.CustomResource(
            "probe-gateway",
            api_version="gateway.networking.k8s.io/v1",
            kind="Gateway",
            metadata={"name": "probe", "namespace": "default"},
            spec={"gatewayClassName": "ack-gateway", "listeners": []},
            opts=pulumi.ResourceOptions(provider=cloud.provider, depends_on=[*cloud.crd_installers]),
        )
        k8s.core.v1.ConfigMap(
            "probe-config",
            metadata={"name": "probe", "namespace": "default"},
            data={"a": "b"},
            opts=pulumi.ResourceOptions(provider=cloud.provider),
        )
        for name, value in cloud.outputs.items():
            pulumi.export(name, value)

    return program


def cloud_run(stack: str = "dev", overrides: dict[str, Any] | None = None, secrets=(), preview=False):
    """The plan of the cloud layer (plus the two probes) and the CloudLayer value it returned."""
    seen: list[CloudLayer] = []
    plan = simulate(stack_config(stack, overrides, secrets), program=_program(seen), preview=preview)
    return plan, seen[0]


@functools.cache
def _cached(stack: str, overrides_json: str, secrets: tuple[str, ...]):
    return cloud_run(stack, json.loads(overrides_json), secrets)


def cached_run(stack: str = "dev", overrides: dict[str, Any] | None = None, secrets=()):
    """Runs that many tests only read are planned once."""
    return _cached(stack, json.dumps(overrides or {}, sort_keys=True), tuple(secrets))


EXISTING = {"cluster": {"mode": "existing", "id": EXISTING_CLUSTER_ID}, "network": None}
# A stack that installs no add-on declares what the cluster has that the gateway's exposure and isolation need.
INSTALLED = {
    "gatewayApi": {"name": "gateway-api", "version": "v1.2.1"},
    "poseidon": {"name": "poseidon", "version": "v0.5.1"},
}
KUBECONFIG = {"cluster": {"mode": "kubeconfig"}, "network": None, "kubeconfig": KUBECONFIG_TEXT, "addons": INSTALLED}
ACS = {"compute": {"mode": "acs"}}
POD_VSWITCH_NETWORK = {
    "vswitches": [
        {"zoneId": "cn-hangzhou-i", "cidr": "10.0.0.0/20", "podCidr": "10.0.64.0/19"},
        {"zoneId": "cn-hangzhou-j", "cidr": "10.0.16.0/20", "podCidr": "10.0.96.0/19"},
    ]
}


def alicloud_resources(plan: Plan) -> list[Registration]:
    return [r for r in plan.resources if r.type.startswith("alicloud:")]


def addon(plan: Plan, role: str) -> Registration:
    return plan.one(ADDON, f"addons-{role}")


def pool(plan: Plan, role: str) -> Registration:
    return plan.one(NODE_POOL, f"{role}-pool")


# --- new cluster with a GPU node pool (the dev stack) ---------------------------------------------------------


def test_dev_creates_network_cluster_pools_addons_and_provider():
    plan, _ = cached_run()
    counts = plan.type_counts()
    assert counts[VPC] == 1
    assert counts[VSWITCH] == 2  # one node vSwitch in each of the two zones
    assert (counts[NAT], counts[EIP], counts[SNAT]) == (1, 1, 1)
    assert counts[CLUSTER] == 1
    assert sorted(r.name for r in plan.of_type(NODE_POOL)) == ["gpu-pool", "system-pool"]
    assert sorted(r.inputs["name"] for r in plan.of_type(ADDON)) == [
        "ack-gateway-with-inference-extension",
        "gateway-api",
    ]
    assert counts[K8S_PROVIDER] == 1
    assert plan.duplicates == []


def test_every_cloud_resource_is_a_child_of_its_component():
    plan, _ = cached_run()
    expected_parent = {
        VPC: "ack-inference:cloud:Network",
        VSWITCH: "ack-inference:cloud:Network",
        NAT: "ack-inference:cloud:Network",
        EIP: "ack-inference:cloud:Network",
        SNAT: "ack-inference:cloud:Network",
        "alicloud:ecs/eipAssociation:EipAssociation": "ack-inference:cloud:Network",
        CLUSTER: "ack-inference:cloud:AckCluster",
        NODE_POOL: "ack-inference:cloud:NodePool",
        ADDON: "ack-inference:cloud:ClusterAddons",
        K8S_PROVIDER: "ack-inference:cloud:KubernetesAccess",
    }
    for resource in plan.resources:
        if resource.type in expected_parent:
            parent = plan.by_urn(resource.parent)
            assert parent.type == expected_parent[resource.type], resource.urn
            assert resource.name.startswith(f"{parent.name}-"), resource.urn


def test_cluster_inputs_use_control_plane_vswitches_and_terway():
    plan, _ = cached_run()
    cluster = plan.one(CLUSTER).inputs
    assert cluster["vswitchIds"] == node_vswitch_ids(plan)
    # Without dedicated pod vSwitches, Terway gives pods addresses from the node vSwitches.
    assert cluster["podVswitchIds"] == cluster["vswitchIds"]
    assert "workerVswitchIds" not in cluster  # deprecated field
    assert "podCidr" not in cluster  # Terway with a pod CIDR fails (PodCidr conflict with PodVswitch)
    assert cluster["clusterSpec"] == "ack.pro.small"
    assert cluster["serviceCidr"] == "172.21.0.0/20"
    assert cluster["enableRrsa"] is True
    assert cluster["slbInternetEnabled"] is True
    assert cluster["newNatGateway"] is False
    assert "version" not in cluster  # newest at creation
    assert [a["name"] for a in cluster["addons"]] == ["terway-eniip", "csi-plugin", "csi-provisioner"]
    # Terway enforces the model servers' NetworkPolicies only when created with policy support.
    assert json.loads(cluster["addons"][0]["config"]) == {"NetworkPolicy": "true"}
    assert "controlPlaneLogComponents" not in cluster


def test_terway_pod_vswitches_are_created_per_zone():
    plan, _ = cloud_run(overrides={"network": POD_VSWITCH_NETWORK})
    pod_switches = [r for r in plan.of_type(VSWITCH) if r.name.startswith("network-pods-")]
    assert [(r.inputs["zoneId"], r.inputs["cidrBlock"]) for r in pod_switches] == [
        ("cn-hangzhou-i", "10.0.64.0/19"),
        ("cn-hangzhou-j", "10.0.96.0/19"),
    ]
    cluster = plan.one(CLUSTER).inputs
    assert cluster["podVswitchIds"] == [resource_id(plan, r) for r in pod_switches]
    assert cluster["vswitchIds"] == node_vswitch_ids(plan)
    # Nodes never land in pod vSwitches.
    assert pool(plan, "gpu").inputs["vswitchIds"] == cluster["vswitchIds"]


def test_cluster_waits_for_egress():
    plan, _ = cached_run()
    assert plan.depends_on(plan.one(CLUSTER), plan.one(SNAT))


def test_nat_egress_covers_the_whole_vpc():
    plan, _ = cached_run()
    snat = plan.one(SNAT).inputs
    assert snat["sourceCidr"] == plan.one(VPC).inputs["cidrBlock"] == "10.0.0.0/16"
    assert snat["snatIp"].startswith("203.0.113.")  # the EIP's address
    nat = plan.states[plan.one(NAT).urn][1]
    assert snat["snatTableId"] == nat["snatTableIds"]
    association = plan.one("alicloud:ecs/eipAssociation:EipAssociation").inputs
    assert (association["allocationId"], association["instanceId"]) == (
        resource_id(plan, plan.one(EIP)),
        resource_id(plan, plan.one(NAT)),
    )


def test_system_pool_is_fixed_and_gpu_pool_autoscales_without_desired_size():
    plan, _ = cached_run()
    system, gpu = pool(plan, "system").inputs, pool(plan, "gpu").inputs
    assert system["desiredSize"] == "2"  # a string in this SDK
    assert "scalingConfig" not in system
    # The autoscaler owns the GPU node count; a desired size as well would be a perpetual diff.
    assert "desiredSize" not in gpu
    assert gpu["scalingConfig"] == {"enable": True, "minSize": 1, "maxSize": 2, "type": "gpu"}
    assert gpu["instanceTypes"] == ["ecs.gn7i-c8g1.2xlarge"]
    assert (gpu["systemDiskCategory"], gpu["systemDiskSize"]) == ("cloud_essd", 200)
    assert gpu["spotStrategy"] == "NoSpot"
    assert gpu["vswitchIds"] == plan.one(CLUSTER).inputs["vswitchIds"]
    for resource in plan.of_type(NODE_POOL):
        assert resource.ignore_changes == []


def test_gpu_pool_labels_and_taints_match_the_gpu_placement():
    plan, cloud = cached_run()
    gpu = pool(plan, "gpu").inputs
    node_labels = {label["key"]: label["value"] for label in gpu["labels"]}
    assert cloud.gpu_placement.node_selector.items() <= node_labels.items()
    assert cloud.gpu_placement.node_selector  # selects something
    taints = gpu["taints"]
    assert taints == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    for taint in taints:
        assert any(
            t["key"] == taint["key"] and t["effect"] == taint["effect"] and t["operator"] == "Exists"
            for t in cloud.gpu_placement.tolerations
        )
    system_labels = {label["key"]: label["value"] for label in pool(plan, "system").inputs["labels"]}
    assert cloud.system_placement.node_selector.items() <= system_labels.items()
    assert not pool(plan, "system").inputs["taints"]
    assert cloud.gpu_placement.pod_labels == {}


def test_every_taggable_cloud_resource_carries_the_tags():
    plan, _ = cached_run()
    taggable = [r for r in alicloud_resources(plan) if r.type in {VPC, VSWITCH, NAT, EIP, CLUSTER, NODE_POOL}]
    assert len(taggable) == 8
    for resource in taggable:
        assert resource.inputs["tags"] == {"project": "ack-inference", "stack": "dev", "managed-by": "pulumi"}


def test_stack_tags_are_merged_over_the_defaults():
    plan, _ = cloud_run(overrides={"tags": {"team": "ml", "managed-by": "platform"}})
    for resource in plan.of_type(CLUSTER) + plan.of_type(VPC) + plan.of_type(NODE_POOL):
        assert resource.inputs["tags"] == {
            "project": "ack-inference",
            "stack": "dev",
            "managed-by": "platform",
            "team": "ml",
        }


def test_gateway_api_addon_is_installed_before_the_gateway_addon():
    plan, _ = cached_run()
    gateway_api, gateway = addon(plan, "gateway-api"), addon(plan, "inference-gateway")
    assert plan.depends_on(gateway, gateway_api)
    assert not plan.depends_on(gateway_api, gateway)
    assert json.loads(gateway.inputs["config"]) == {"enableInferenceExtension": True}


def test_addons_wait_for_the_system_pool_and_have_generous_timeouts():
    plan, _ = cached_run()
    for resource in plan.of_type(ADDON):
        assert plan.depends_on(resource, pool(plan, "system"))
        assert resource.inputs["clusterId"] == resource_id(plan, plan.one(CLUSTER))
        assert resource.custom_timeouts == {"create": "30m", "update": "30m", "delete": "30m"}
        assert resource.retain_on_delete is False  # this stack owns the cluster


def test_kubernetes_objects_use_the_explicit_provider_and_wait_for_pools_and_addons():
    plan, cloud = cached_run()
    provider = plan.one(K8S_PROVIDER)
    kubernetes_objects = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert {r.type for r in kubernetes_objects} == {GATEWAY, CONFIG_MAP}
    for resource in kubernetes_objects:
        assert resource.provider == provider.urn
        # Even an object that declares nothing waits, through the provider, for capacity and add-ons.
        for dependency in [*cloud.capacity, *cloud.crd_installers]:
            assert plan.depends_on(resource, _registration(plan, dependency))
    assert plan.depends_on(plan.one(GATEWAY), addon(plan, "inference-gateway"))


def test_cloud_layer_hands_over_pools_and_gateway_addons():
    plan, cloud = cached_run()
    assert [_registration(plan, r).name for r in cloud.capacity] == ["system", "gpu"]
    assert [_registration(plan, r).name for r in cloud.crd_installers] == [
        "addons-gateway-api",
        "addons-inference-gateway",
    ]
    assert cloud.monitoring_installers == []
    assert _registration(plan, cloud.provider).type == K8S_PROVIDER


def test_provider_is_keyed_by_cluster_id_with_a_secret_kubeconfig():
    plan, _ = cached_run()
    provider = plan.one(K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == SECRET
    assert provider.inputs["clusterIdentifier"] == resource_id(plan, plan.one(CLUSTER))
    assert plan.depends_on(provider, plan.one(CLUSTER))


def test_outputs_name_cluster_vpc_pools_and_a_secret_kubeconfig():
    plan, _ = cached_run()
    outputs = plan.outputs
    assert outputs["clusterId"] == resource_id(plan, plan.one(CLUSTER))
    assert outputs["vpcId"] == resource_id(plan, plan.one(VPC))
    assert outputs["nodePoolIds"] == {
        role: plan.states[pool(plan, role).urn][1]["nodePoolId"] for role in ("system", "gpu")
    }
    assert outputs["kubeconfig"] == SECRET
    # The credentials go outside the repository, readable by their owner only.
    assert outputs["clusterCommands"][:2] == [
        "mkdir -p ~/.kube && (umask 077 && pulumi stack output kubeconfig --show-secrets"
        " > ~/.kube/ack-inference-dev.yaml)",
        "export KUBECONFIG=~/.kube/ack-inference-dev.yaml",
    ]


@pytest.mark.parametrize("name", ["kubeconfig", "kubeconfig.yaml", "prod.kubeconfig", "docs/kubeconfig-dev.yml"])
def test_git_ignores_kubeconfig_files_anywhere_in_the_repository(name):
    result = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=PROJECT_DIR, check=False)
    assert result.returncode == 0, f"{name} is not ignored"


def test_preview_with_unknown_cluster_id_does_not_fail():
    plan, _ = cloud_run(preview=True)
    assert len(plan.of_type(ADDON)) == 2
    assert plan.one(K8S_PROVIDER).inputs["kubeconfig"] == SECRET


# --- variations of a new cluster ------------------------------------------------------------------------------


def test_flannel_uses_a_pod_cidr_and_no_pod_vswitches():
    # Flannel enforces no NetworkPolicy: such a stack must give up isolation explicitly.
    no_isolation = {"networkIsolation": {"enabled": False}}
    plan, _ = cloud_run(overrides={"cluster": {"cni": "flannel"}, "security": no_isolation})
    cluster = plan.one(CLUSTER).inputs
    assert cluster["podCidr"] == "172.20.0.0/16"
    assert "podVswitchIds" not in cluster
    assert cluster["addons"][0] == {"name": "flannel"}
    assert len(plan.of_type(VSWITCH)) == 2


def test_existing_vpc_creates_no_network_resources():
    network = {"vpcId": "vpc-abc123", "vswitchIds": ["vsw-a1", "vsw-b2"], "podVswitchIds": ["vsw-p1", "vsw-p2"]}
    plan, _ = cloud_run(overrides={"network": network})
    assert not [r for r in plan.resources if r.type.startswith("alicloud:vpc/") or r.type.startswith("alicloud:ecs/")]
    assert not plan.of_type("ack-inference:cloud:Network")
    cluster = plan.one(CLUSTER).inputs
    assert (cluster["vswitchIds"], cluster["podVswitchIds"]) == (["vsw-a1", "vsw-b2"], ["vsw-p1", "vsw-p2"])
    assert pool(plan, "gpu").inputs["vswitchIds"] == ["vsw-a1", "vsw-b2"]
    assert plan.outputs["vpcId"] == "vpc-abc123"


def test_no_nat_gateway_when_images_come_from_a_vpc_registry():
    baked = {
        "source": {"type": "baked"},
        "image": "registry-vpc.cn-hangzhou.aliyuncs.com/team/vllm-llama2-7b:v0.8.5.post1",
        "replicas": 1,
    }
    plan, _ = cloud_run(overrides={"network": {"natGateway": False}, "models": [baked]})
    assert not plan.of_type(NAT) and not plan.of_type(EIP) and not plan.of_type(SNAT)
    assert len(plan.of_type(VSWITCH)) == 2


def test_endpoint_version_logs_and_rrsa_reach_the_cluster():
    cluster_settings = {
        "kubernetesVersion": "1.32.7-aliyun.1",
        "controlPlaneLogs": {"components": ["apiserver", "ccm"], "ttlDays": 14, "project": "my-logs"},
        "rrsa": False,
        "spec": "ack.pro.xlarge",
        "name": "inference-a",
        "kubeconfigTtlMinutes": 60,
    }
    plan, _ = cloud_run(overrides={"cluster": cluster_settings})
    cluster = plan.one(CLUSTER).inputs
    assert cluster["slbInternetEnabled"] is True
    assert cluster["version"] == "1.32.7-aliyun.1"
    assert cluster["controlPlaneLogComponents"] == ["apiserver", "ccm"]
    assert cluster["controlPlaneLogTtl"] == "14"
    assert cluster["controlPlaneLogProject"] == "my-logs"
    assert cluster["enableRrsa"] is False
    assert cluster["clusterSpec"] == "ack.pro.xlarge"
    assert cluster["name"] == "inference-a"
    assert plan.one(VPC).inputs["vpcName"] == "inference-a"
    assert pool(plan, "gpu").inputs["nodePoolName"] == "inference-a-gpu"


def test_gpu_pool_options_reach_the_node_pool():
    gpu = {
        "instanceTypes": ["ecs.gn7i-c16g1.4xlarge", "ecs.gn7i-c8g1.2xlarge"],
        "minSize": 0,
        "maxSize": 6,
        "spot": True,
        "nvidiaDriverVersion": "550.144.03",
        "systemDiskGib": 300,
    }
    plan, _ = cloud_run(overrides={"nodePools": {"gpu": gpu, "keyPairName": "ops"}})
    inputs = pool(plan, "gpu").inputs
    assert inputs["instanceTypes"] == ["ecs.gn7i-c16g1.4xlarge", "ecs.gn7i-c8g1.2xlarge"]
    assert inputs["scalingConfig"] == {"enable": True, "minSize": 0, "maxSize": 6, "type": "gpu"}
    assert inputs["spotStrategy"] == "SpotAsPriceGo"
    assert {"key": "ack.aliyun.com/nvidia-driver-version", "value": "550.144.03"} in inputs["labels"]
    assert inputs["systemDiskSize"] == 300
    assert inputs["keyName"] == pool(plan, "system").inputs["keyName"] == "ops"


def test_arms_prometheus_is_a_monitoring_installer_when_enabled():
    plan, cloud = cloud_run(overrides={"addons": {"armsPrometheus": {"name": "arms-prometheus", "enabled": True}}})
    arms = addon(plan, "arms-prometheus")
    assert arms.inputs["name"] == "arms-prometheus"
    assert [_registration(plan, r) for r in cloud.monitoring_installers] == [arms]
    assert plan.depends_on(plan.one(CONFIG_MAP), arms)


def test_addon_names_versions_and_config_come_from_settings():
    addons = {
        "gatewayApi": {"name": "gateway-api", "version": "1.3.0-aliyun.1"},
        "inferenceGateway": {"name": "ack-gateway-with-inference-extension", "config": {"replicas": 3}},
    }
    plan, _ = cloud_run(overrides={"addons": addons})
    assert addon(plan, "gateway-api").inputs["version"] == "1.3.0-aliyun.1"
    assert "config" not in addon(plan, "gateway-api").inputs
    assert json.loads(addon(plan, "inference-gateway").inputs["config"]) == {"replicas": 3}


# --- ACS serverless GPU ---------------------------------------------------------------------------------------


def test_acs_installs_the_virtual_node_addon_instead_of_a_gpu_pool():
    plan, cloud = cached_run(overrides=ACS)
    assert [r.name for r in plan.of_type(NODE_POOL)] == ["system-pool"]
    virtual_node = addon(plan, "virtual-node")
    assert virtual_node.inputs["name"] == "ack-virtual-node"
    assert virtual_node.inputs["cleanupCloudResources"] is True
    assert plan.depends_on(virtual_node, pool(plan, "system"))
    # ACS pods enforce NetworkPolicies only with Poseidon: model servers wait for it too.
    poseidon = addon(plan, "poseidon")
    assert poseidon.inputs["name"] == "poseidon"
    assert plan.depends_on(poseidon, virtual_node)
    assert [_registration(plan, r).name for r in cloud.capacity] == ["system", "addons-virtual-node", "addons-poseidon"]
    assert plan.depends_on(plan.one(CONFIG_MAP), virtual_node)


def test_acs_without_isolation_installs_no_poseidon():
    plan, _ = cloud_run(overrides={**ACS, "security": {"networkIsolation": {"enabled": False}}})
    assert [a.inputs["name"] for a in plan.of_type(ADDON)] == [
        "gateway-api",
        "ack-gateway-with-inference-extension",
        "ack-virtual-node",
    ]


def test_acs_placement_is_pod_labels_only():
    _, cloud = cached_run(overrides=ACS)
    assert cloud.gpu_placement.pod_labels == {
        "alibabacloud.com/acs": "true",
        "alibabacloud.com/compute-class": "gpu",
        "alibabacloud.com/gpu-model-series": "GN8IS",
    }
    assert cloud.gpu_placement.node_selector == {}
    assert cloud.gpu_placement.tolerations == []


def test_acs_gpu_series_is_configurable():
    _, cloud = cloud_run(overrides={"compute": {"mode": "acs", "acs": {"gpuModelSeries": "GX9", "gpuMemoryGib": 80}}})
    assert cloud.gpu_placement.pod_labels["alibabacloud.com/gpu-model-series"] == "GX9"


# --- existing ACK cluster -------------------------------------------------------------------------------------


def test_existing_cluster_creates_no_network_cluster_or_pools():
    plan, cloud = cached_run(overrides=EXISTING)
    assert {r.type for r in alicloud_resources(plan)} == {ADDON}
    assert cloud.capacity == []
    assert cloud.system_placement.node_selector == {}
    assert "vpcId" not in plan.outputs and "nodePoolIds" not in plan.outputs
    assert plan.outputs["clusterId"] == EXISTING_CLUSTER_ID
    assert plan.outputs["kubeconfig"] == SECRET


def test_existing_cluster_addons_are_kept_when_the_stack_is_destroyed():
    plan, cloud = cached_run(overrides=EXISTING)
    for resource in plan.of_type(ADDON):
        assert resource.inputs["clusterId"] == EXISTING_CLUSTER_ID
        assert resource.retain_on_delete is True
    assert plan.depends_on(addon(plan, "inference-gateway"), addon(plan, "gateway-api"))
    assert len(cloud.crd_installers) == 2


def test_existing_cluster_provider_uses_the_cluster_id():
    plan, _ = cached_run(overrides=EXISTING)
    provider = plan.one(K8S_PROVIDER)
    assert provider.inputs["clusterIdentifier"] == EXISTING_CLUSTER_ID
    assert provider.inputs["kubeconfig"] == SECRET
    assert plan.depends_on(plan.one(CONFIG_MAP), addon(plan, "inference-gateway"))


def test_existing_cluster_with_addons_already_installed():
    overrides = {**EXISTING, "addons": {"manage": False, **INSTALLED}}
    plan, cloud = cloud_run(overrides=overrides)
    assert alicloud_resources(plan) == []
    assert cloud.crd_installers == []
    assert plan.one(K8S_PROVIDER).inputs["clusterIdentifier"] == EXISTING_CLUSTER_ID


def test_existing_cluster_with_acs_installs_the_virtual_node():
    plan, cloud = cloud_run(overrides={**EXISTING, **ACS})
    assert [_registration(plan, r).name for r in cloud.capacity] == ["addons-virtual-node", "addons-poseidon"]


# --- kubeconfig only ------------------------------------------------------------------------------------------


def test_kubeconfig_mode_creates_no_alibaba_cloud_resource():
    plan, cloud = cached_run(overrides=KUBECONFIG, secrets=("kubeconfig",))
    assert alicloud_resources(plan) == []
    assert [r.type for r in plan.resources if r.custom and not r.type.startswith("kubernetes:")] == [K8S_PROVIDER]
    assert (cloud.capacity, cloud.crd_installers, cloud.monitoring_installers) == ([], [], [])
    assert plan.one(K8S_PROVIDER).inputs["clusterIdentifier"] == "ack-inference-dev"
    assert set(plan.outputs) == {"clusterCommands"}


def test_kubeconfig_stays_secret_everywhere():
    plan, _ = cached_run(overrides=KUBECONFIG, secrets=("kubeconfig",))
    assert plan.one(K8S_PROVIDER).inputs["kubeconfig"] == SECRET
    everything = json.dumps(plan.to_json())
    assert "byo-cluster-credential-marker" not in everything
    for resource in plan.of_type(CONFIG_MAP) + plan.of_type(GATEWAY):
        assert resource.provider == plan.one(K8S_PROVIDER).urn


def test_kubeconfig_mode_placement_still_targets_gpu_nodes_or_acs():
    _, node_pool_cloud = cached_run(overrides=KUBECONFIG, secrets=("kubeconfig",))
    assert node_pool_cloud.gpu_placement.node_selector == {"ack-inference/pool": "gpu"}
    _, acs_cloud = cloud_run(overrides={**KUBECONFIG, **ACS}, secrets=("kubeconfig",))
    assert acs_cloud.gpu_placement.pod_labels["alibabacloud.com/compute-class"] == "gpu"


def test_mode_follows_the_kubeconfig_secret_or_the_cluster_id():
    plan, _ = cloud_run(overrides={"kubeconfig": KUBECONFIG_TEXT, "addons": INSTALLED}, secrets=("kubeconfig",))
    assert alicloud_resources(plan) == []
    plan, _ = cloud_run(overrides={"cluster": {"id": EXISTING_CLUSTER_ID}})
    assert {r.type for r in alicloud_resources(plan)} == {ADDON}


# --- production -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cluster_and_vpc_protection_follow_the_tier(stack):
    plan, _ = cached_run(stack)
    production = stack == "prod"
    cluster, vpc = plan.one(CLUSTER), plan.one(VPC)
    assert cluster.protect is production
    assert cluster.inputs["deletionProtection"] is production
    assert vpc.protect is production
    # Only the cluster and the VPC are protected; the rest can be replaced freely.
    assert [r.name for r in plan.resources if r.protect] == (["ack-cluster", "network-vpc"] if production else [])


def test_prod_stack_keeps_logs_pod_vswitches_and_larger_pools():
    plan, _ = cached_run("prod")
    cluster = plan.one(CLUSTER).inputs
    assert len(cluster["podVswitchIds"]) == 2 and cluster["podVswitchIds"] != cluster["vswitchIds"]
    assert cluster["controlPlaneLogComponents"] == ["apiserver", "kcm", "scheduler", "ccm"]
    assert pool(plan, "system").inputs["desiredSize"] == "3"
    assert pool(plan, "gpu").inputs["scalingConfig"]["minSize"] == 2
    assert plan.one(CLUSTER).inputs["tags"]["environment"] == "production"


def test_undecrypted_secrets_never_reach_the_plan():
    plan, _ = cached_run(overrides=KUBECONFIG, secrets=("kubeconfig",))
    assert UNDECRYPTED_SECRET not in json.dumps(plan.to_json())


def _registration(plan: Plan, resource: pulumi.Resource) -> Registration:
    """The registration of a Python resource object (names are unique per type in these plans)."""
    return plan.one(resource.pulumi_resource_type, resource.pulumi_resource_name)


# --- the whole program: every layer's Kubernetes objects go through the cloud layer ---------------------------


@pytest.mark.parametrize("overrides", [{}, ACS], ids=["gpu-node-pool", "acs"])
def test_every_kubernetes_object_of_the_program_uses_the_provider_and_waits_for_capacity(overrides):
    plan = plan_stack("dev", overrides)
    provider = plan.one(K8S_PROVIDER)
    kubernetes_objects = [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert kubernetes_objects
    capacity = plan.of_type(NODE_POOL) + ([addon(plan, "virtual-node")] if overrides else [])
    for resource in kubernetes_objects:
        assert resource.provider == provider.urn, resource.urn
        for needed in [*capacity, addon(plan, "gateway-api"), addon(plan, "inference-gateway")]:
            assert plan.depends_on(resource, needed), (resource.urn, needed.urn)


def test_gpu_workloads_of_the_program_land_on_the_gpu_pool():
    plan = plan_stack("dev")
    gpu = pool(plan, "gpu").inputs
    node_labels = {label["key"]: label["value"] for label in gpu["labels"]}
    gpu_pods = [
        r["inputs"]["spec"]["template"]["spec"]
        for r in plan.to_json()["resources"]
        if r["type"] == "kubernetes:apps/v1:Deployment"
        and any(
            "nvidia.com/gpu" in (c.get("resources") or {}).get("limits", {})
            for c in r["inputs"]["spec"]["template"]["spec"]["containers"]
        )
    ]
    assert gpu_pods
    for pod in gpu_pods:
        assert pod["nodeSelector"].items() <= node_labels.items()
        for taint in gpu["taints"]:
            assert any(t["key"] == taint["key"] and t["effect"] == taint["effect"] for t in pod["tolerations"])


def resource_id(plan, resource) -> str:
    """The id the provider (mock) gave a resource."""
    return plan.states[resource.urn][0]


def node_vswitch_ids(plan) -> list[str]:
    return [resource_id(plan, r) for r in plan.of_type(VSWITCH) if r.name.startswith("network-nodes-")]


def test_the_gpu_pool_waits_for_the_cluster_autoscaler_configuration():
    plan, _ = cloud_run()
    (config,) = plan.of_type("alicloud:cs/autoscalingConfig:AutoscalingConfig")
    assert config.inputs["clusterId"] == resource_id(plan, plan.one(CLUSTER))
    assert config.inputs["scaleDownEnabled"] is True and config.inputs["scaleUpFromZero"] is True
    assert plan.depends_on(pool(plan, "gpu"), config)
    assert not plan.depends_on(pool(plan, "system"), config)
