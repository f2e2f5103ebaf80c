"""Cloud settings: every rejection names the key path and registers nothing; the GPU table and name parsing."""

from __future__ import annotations

import pytest

from stacks.settings.compute import GPU_FAMILIES, gpu_family, gpus_in
from tests.harness import DECLARED_ADDONS, config_error, messages
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import available_stacks, load_stack_config

VSWITCHES = [
    {"zoneId": "cn-hangzhou-i", "cidr": "10.0.0.0/20"},
    {"zoneId": "cn-hangzhou-j", "cidr": "10.0.16.0/20"},
]
EXISTING = {"mode": "existing", "id": "c0123456789abcdef"}


# Flannel enforces no NetworkPolicy: a Flannel stack must give up the model servers' isolation explicitly.
NO_ISOLATION = {"networkIsolation": {"enabled": False}}


def rejected(overrides, secrets=()) -> list[str]:
    return messages(config_error("dev", overrides, secrets))


def only(overrides, secrets=()) -> str:
    found = rejected(overrides, secrets)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        ({"cluster": {"fooBar": 1}}, "cluster.fooBar", "unknown key"),
        (
            {"network": {"vswitches": [{**VSWITCHES[0], "zone": "x"}, VSWITCHES[1]]}},
            "network.vswitches[0].zone",
            "unknown key",
        ),
        (
            {"addons": {"gatewayApi": {"name": "gateway-api", "versoin": "1"}}},
            "addons.gatewayApi.versoin",
            "unknown key",
        ),
        ({"nodePools": {"gpu": {"maxSize": "many"}}}, "nodePools.gpu.maxSize", "valid integer"),
        ({"cluster": {"rrsa": "sometimes"}}, "cluster.rrsa", "valid boolean"),
        # An integer or a boolean would otherwise become a /32 network.
        ({"network": {"cidr": 167772160}}, "network.cidr", "must be a CIDR in text form"),
        ({"cluster": {"serviceCidr": True}}, "cluster.serviceCidr", "must be a CIDR in text form"),
        ({"cluster": {"cni": "calico"}}, "cluster.cni", "'terway' or 'flannel'"),
        ({"compute": {"mode": "eci"}}, "compute.mode", "'nodePool' or 'acs'"),
        ({"nodePools": {"system": {"size": 1}}}, "nodePools.system.size", "greater than or equal to 2"),
        ({"nodePools": {"gpu": {"maxSize": 101}}}, "nodePools.gpu.maxSize", "less than or equal to 100"),
        ({"nodePools": {"gpu": {"systemDiskGib": 40}}}, "nodePools.gpu.systemDiskGib", "greater than or equal to 100"),
        ({"nodePools": {"gpu": {"minSize": 3}}}, "nodePools.gpu", "minSize must not be larger than maxSize"),
        ({"nodePools": {"gpu": {"instanceTypes": []}}}, "nodePools.gpu.instanceTypes", "at least 1 item"),
        (
            {"nodePools": {"gpu": {"instanceTypes": ["gn7i-c8g1.2xlarge"]}}},
            "nodePools.gpu.instanceTypes",
            "ECS instance type",
        ),
        ({"nodePools": {"gpu": {"nvidiaDriverVersion": "latest"}}}, "nodePools.gpu.nvidiaDriverVersion", "pattern"),
        ({"cluster": {"kubeconfigTtlMinutes": 5}}, "cluster.kubeconfigTtlMinutes", "greater than or equal to 15"),
        ({"cluster": {"kubernetesVersion": "1.28.9-aliyun.1"}}, "cluster.kubernetesVersion", "1.30 or later"),
        ({"cluster": {"kubernetesVersion": "1.29.3-aliyun.1"}}, "cluster.kubernetesVersion", "1.30 or later"),
        ({"cluster": {"kubernetesVersion": "latest"}}, "cluster.kubernetesVersion", "pattern"),
        ({"cluster": {"serviceCidr": "172.16.0.0/12"}}, "cluster.serviceCidr", "/16 to /24"),
        ({"cluster": {"serviceCidr": "172.21.0.1/20"}}, "cluster.serviceCidr", "not a valid IPv4 network"),
        (
            {"cluster": {"mode": "new", "id": "c0123456789abcdef"}},
            "cluster.id",
            "only used with `cluster.mode: existing`",
        ),
        ({"cluster": {"spec": "ack.pro.medium"}}, "cluster.spec", "ack.pro.small"),
        ({"cluster": {"apiEndpoint": "internal"}}, "cluster.apiEndpoint", "'public' or 'private'"),
        (
            {"network": {"egressBandwidthMbps": 0, "vswitches": VSWITCHES}},
            "network.egressBandwidthMbps",
            "greater than",
        ),
        ({"network": {"vpcId": "my-vpc"}}, "network.vpcId", "pattern"),
        ({"addons": {"gatewayApi": {"name": "Gateway API"}}}, "addons.gatewayApi.name", "pattern"),
        ({"compute": {"acs": {"gpuModelSeries": "gn8is"}}}, "compute.acs.gpuModelSeries", "pattern"),
    ],
)
def test_field_rejections_name_the_key(overrides, key, says):
    message = only(overrides)
    assert message.startswith(f"ack-inference:{key}: "), message
    assert says in message


def test_overlapping_service_and_vpc_cidrs():
    assert only({"cluster": {"serviceCidr": "10.0.0.0/20"}}) == (
        "ack-inference:cluster.serviceCidr: overlaps the VPC CIDR (`network.cidr`)"
    )


def test_overlapping_pod_and_service_cidrs():
    message = only(
        {
            "cluster": {"cni": "flannel", "podCidr": "172.21.0.0/16"},
            "network": {"vswitches": VSWITCHES},
            "security": NO_ISOLATION,
        }
    )
    assert message == "ack-inference:cluster.serviceCidr: overlaps the pod CIDR; pick disjoint blocks"


def test_flannel_pod_cidr_overlapping_the_vpc():
    flannel = {"cni": "flannel", "podCidr": "10.0.0.0/8"}
    message = only({"cluster": flannel, "network": {"vswitches": VSWITCHES}, "security": NO_ISOLATION})
    assert message.startswith("ack-inference:cluster.podCidr: the Flannel pod CIDR overlaps the VPC CIDR")


def test_default_flannel_pod_cidr_overlapping_a_custom_vpc():
    message = only(
        {
            "cluster": {"cni": "flannel"},
            "security": NO_ISOLATION,
            "network": {
                "cidr": "172.20.0.0/16",
                "vswitches": [
                    {"zoneId": "cn-hangzhou-i", "cidr": "172.20.0.0/20"},
                    {"zoneId": "cn-hangzhou-j", "cidr": "172.20.16.0/20"},
                ],
            },
        }
    )
    assert message.startswith("ack-inference:cluster.cni: the Flannel pod CIDR overlaps the VPC CIDR")


def test_vswitch_outside_the_vpc_and_overlapping_vswitches():
    messages_ = rejected(
        {
            "network": {
                "vswitches": [
                    {"zoneId": "cn-hangzhou-i", "cidr": "10.1.0.0/20"},
                    {"zoneId": "cn-hangzhou-j", "cidr": "10.0.16.0/20", "podCidr": "10.0.16.0/21"},
                ]
            }
        }
    )
    assert messages_ == [
        "ack-inference:network.vswitches[0].cidr: is not inside the VPC CIDR (`network.cidr`)",
        "ack-inference:network.vswitches[1].podCidr: overlaps another vSwitch CIDR",
    ]


def test_terway_with_a_pod_cidr():
    message = only({"cluster": {"podCidr": "172.20.0.0/16"}})
    assert message.startswith("ack-inference:cluster.podCidr: is for Flannel; Terway")


def test_flannel_with_pod_vswitches():
    pod_vswitches = [{**v, "podCidr": f"10.0.{64 + 32 * i}.0/19"} for i, v in enumerate(VSWITCHES)]
    overrides = {"cluster": {"cni": "flannel"}, "network": {"vswitches": pod_vswitches}, "security": NO_ISOLATION}
    assert rejected(overrides) == [
        f"ack-inference:network.vswitches[{i}].podCidr: is for Terway; Flannel takes its pod addresses from "
        "`cluster.podCidr`"
        for i in (0, 1)
    ]


def test_new_vpc_needs_two_zones():
    assert only({"network": {"vswitches": VSWITCHES[:1]}}) == (
        "ack-inference:network.vswitches: needs at least two vSwitches in different zones"
    )
    duplicated = [VSWITCHES[0], {"zoneId": "cn-hangzhou-i", "cidr": "10.0.16.0/20"}]
    assert only({"network": {"vswitches": duplicated}}).startswith("ack-inference:network.vswitches: has two")


def test_existing_vpc_rules():
    assert (
        only({"network": {"vpcId": "vpc-abc"}}) == "ack-inference:network.vswitchIds: is required with `network.vpcId`"
    )
    assert rejected(
        {"network": {"vpcId": "vpc-abc", "vswitchIds": ["vsw-a"], "natGateway": True, "vswitches": VSWITCHES}}
    ) == [
        "ack-inference:network.natGateway: is only available for a new VPC",
        "ack-inference:network.vswitches: creates vSwitches in a new VPC; with `vpcId` use `vswitchIds`",
    ]
    assert only({"network": {"vpcId": "vpc-abc", "vswitchIds": ["subnet-1"]}}).startswith(
        "ack-inference:network.vswitchIds: "
    )
    assert only({"network": {"vswitchIds": ["vsw-a"], "vswitches": VSWITCHES}}) == (
        "ack-inference:network.vswitchIds: is only used with `network.vpcId`"
    )


def test_gpu_too_small_for_the_model():
    message = only({"nodePools": {"gpu": {"instanceTypes": ["ecs.gn7i-c8g1.2xlarge", "ecs.gn6i-c4g1.xlarge"]}}})
    assert message == (
        "ack-inference:nodePools.gpu.instanceTypes[1]: `ecs.gn6i-c4g1.xlarge` has 16 GiB per GPU but models[0] needs "
        "20 GiB; choose a GPU with more memory"
    )


def test_gpu_memory_is_checked_against_every_model():
    message = only({"models": [{"name": "small"}, {"name": "big", "gpuMemoryGibNeeded": 30}]})
    assert message.startswith("ack-inference:nodePools.gpu.instanceTypes[0]: `ecs.gn7i-c8g1.2xlarge` has 24 GiB")
    assert "models[1] needs 30 GiB" in message


def test_unknown_gpu_family_needs_its_memory():
    unknown = {"nodePools": {"gpu": {"instanceTypes": ["ecs.gn7e-c16g1.4xlarge"]}}}
    message = only(unknown)
    assert message.startswith("ack-inference:nodePools.gpu.gpuMemoryGib: is required: `ecs.gn7e-c16g1.4xlarge`")
    too_small = {"nodePools": {"gpu": {"instanceTypes": ["ecs.gn7e-c16g1.4xlarge"], "gpuMemoryGib": 16}}}
    assert only(too_small).startswith("ack-inference:nodePools.gpu.instanceTypes[0]: `ecs.gn7e-c16g1.4xlarge` has 16")


def test_gpus_per_replica_must_fit_on_one_node():
    message = only({"models": [{"gpusPerReplica": 2}]})
    assert message == (
        "ack-inference:nodePools.gpu.instanceTypes[0]: has 1 GPU(s) per node but models[0] needs 2 per replica"
    )


def test_gpu_count_of_an_unreadable_type_must_be_stated():
    overrides = {"nodePools": {"gpu": {"instanceTypes": ["ecs.ebmgn7ix-custom"], "gpuMemoryGib": 80}}}
    assert only(overrides).startswith("ack-inference:nodePools.gpu.gpusPerNode: is required")


def test_max_size_must_hold_every_replica():
    message = only({"models": [{"replicas": 3}]})
    assert message == "ack-inference:nodePools.gpu.maxSize: allows at most 2 GPU(s) but the models need 3"


def test_simulator_model_servers_need_no_gpu():
    simulators = [{"name": f"sim-{index}", "mode": "simulator", "replicas": 2} for index in range(3)]
    too_small = {"nodePools": {"gpu": {"instanceTypes": ["ecs.gn6i-c4g1.xlarge"]}}}
    # Only the GPU model server counts: 1 replica fits the 2-node pool, and its memory need is still checked.
    assert only({"models": [*simulators, {"name": "real"}], **too_small}) == (
        "ack-inference:nodePools.gpu.instanceTypes[0]: `ecs.gn6i-c4g1.xlarge` has 16 GiB per GPU but models[3] "
        "needs 20 GiB; choose a GPU with more memory"
    )


def test_acs_series_memory_is_checked():
    assert only({"compute": {"mode": "acs", "acs": {"gpuModelSeries": "GX1"}}}) == (
        "ack-inference:compute.acs.gpuMemoryGib: is required for a GPU series not in the known table (GN8IS)"
    )
    small = {"compute": {"mode": "acs", "acs": {"gpuModelSeries": "GX1", "gpuMemoryGib": 16}}}
    assert only(small).startswith("ack-inference:compute.acs.gpuModelSeries: has 16 GiB per GPU but models[0]")


def test_mode_rules():
    assert rejected({"cluster": {"mode": "existing"}, "network": None}) == [
        "ack-inference:cluster.id: is required with `cluster.mode: existing` (the ACK cluster id)"
    ]
    assert rejected({"cluster": EXISTING, "network": {"natGateway": False}}) == [
        "ack-inference:network: is only used with `cluster.mode: new` (mode is `existing`)"
    ]
    assert rejected({"cluster": EXISTING, "network": None, "nodePools": {"system": {"size": 3}}}) == [
        "ack-inference:nodePools: is only used with `cluster.mode: new` (mode is `existing`)"
    ]
    assert only({"cluster": {"mode": "kubeconfig"}, "network": None, "addons": DECLARED_ADDONS}).startswith(
        "ack-inference:kubeconfig: is required with `cluster.mode: kubeconfig`"
    )
    assert only({"cluster": {"mode": "new"}, "kubeconfig": "apiVersion: v1"}, secrets=("kubeconfig",)) == (
        "ack-inference:kubeconfig: is only used with `cluster.mode: kubeconfig`"
    )
    kubeconfig_with_addons = {
        "cluster": {"mode": "kubeconfig"},
        "network": None,
        "kubeconfig": "x",
        "addons": {"manage": True},
    }
    assert only(kubeconfig_with_addons, secrets=("kubeconfig",)).startswith("ack-inference:addons.manage: needs an ACK")
    assert only({"addons": {"manage": False, **DECLARED_ADDONS}}).startswith(
        "ack-inference:addons.manage: must stay on for a new cluster"
    )


def test_new_cluster_settings_are_rejected_for_a_cluster_we_do_not_create():
    existing = {"mode": "existing", "id": "c0123456789abcdef", "kubernetesVersion": "1.33.3-aliyun.1", "cni": "flannel"}
    assert rejected({"cluster": existing}) == [
        "ack-inference:cluster.cni: is only used with `cluster.mode: new` (mode is `existing`)",
        "ack-inference:cluster.kubernetesVersion: is only used with `cluster.mode: new` (mode is `existing`)",
    ]
    kubeconfig = {
        "cluster": {"mode": "kubeconfig", "kubeconfigTtlMinutes": 60},
        "kubeconfig": "x",
        "addons": DECLARED_ADDONS,
    }
    assert only(kubeconfig, secrets=("kubeconfig",)) == (
        "ack-inference:cluster.kubeconfigTtlMinutes: is for a kubeconfig fetched from ACK"
    )


def test_settings_of_the_other_compute_mode_are_rejected():
    assert only({"compute": {"mode": "acs"}, "nodePools": {"gpu": {"maxSize": 4}}}) == (
        "ack-inference:nodePools.gpu: is only used with `compute.mode: nodePool` (mode is `acs`)"
    )
    assert only({"compute": {"acs": {"gpuModelSeries": "GN8IS"}}}) == (
        "ack-inference:compute.acs: is only used with `compute.mode: acs`"
    )


def test_kubeconfig_in_plain_text_is_rejected_without_echoing_it():
    overrides = {"cluster": {"mode": "kubeconfig"}, "network": None, "kubeconfig": "token: plain-text-credential"}
    message = only(overrides)
    assert message.startswith("ack-inference:kubeconfig: is stored in plain text but must be a secret")
    assert "plain-text-credential" not in message


def test_invalid_tags_are_rejected_without_echoing_them():
    for tags in ({"aliyun-owner": "me"}, {"team": "acs:ml"}, {"x": "https://example.com"}):
        message = only({"tags": tags})
        assert message.startswith("ack-inference:tags: has an invalid "), message
        for text in (*tags, *tags.values()):
            assert text not in message


def test_several_problems_are_reported_together():
    found = rejected({"cluster": {"kubernetesVersion": "1.29.0", "serviceCidr": "10.0.0.0/16"}})
    assert found == [
        "ack-inference:cluster.kubernetesVersion: must be 1.30 or later (the Gateway with Inference Extension add-on "
        "needs it)"
    ]
    # Cross-field checks run once the fields themselves are valid.
    assert rejected({"cluster": {"podCidr": "172.20.0.0/16", "serviceCidr": "10.0.0.0/16"}}) == [
        "ack-inference:cluster.podCidr: is for Flannel; Terway takes pod addresses from pod vSwitches (setting both "
        "makes ACK fail with `PodCidr conflict with PodVswitch`)",
        "ack-inference:cluster.serviceCidr: overlaps the VPC CIDR (`network.cidr`)",
    ]


@pytest.mark.parametrize(
    ("instance_type", "gpus"),
    [
        ("ecs.gn7i-c8g1.2xlarge", 1),  # 8 vCPUs, 8 per GPU
        ("ecs.gn7i-c32g1.32xlarge", 4),  # 128 vCPUs, 32 per GPU
        ("ecs.gn6i-c4g1.xlarge", 1),
        ("ecs.gn6v-c8g1.16xlarge", 8),
        ("ecs.gn8is-4x.16xlarge", 4),
        ("ecs.gn8is.2xlarge", 1),
        ("ecs.gn7i-c12g1.2xlarge", None),  # 8 vCPUs cannot be 12 per GPU
        ("ecs.g7.large", None),
    ],
)
def test_gpus_read_from_the_instance_type_name(instance_type, gpus):
    assert gpus_in(instance_type) == gpus


def test_gpu_families():
    assert gpu_family("ecs.gn7i-c8g1.2xlarge").memory_gib == 24
    assert gpu_family("ecs.gn6i-c4g1.xlarge").memory_gib == 16  # T4: too small for the Llama 2 sample
    assert gpu_family("ecs.gn8is-2x.8xlarge").model == "NVIDIA L20"
    assert gpu_family("ecs.gn7e-c16g1.4xlarge") is None
    assert all(gpu.memory_gib > 0 for gpu in GPU_FAMILIES.values())


@pytest.mark.parametrize("stack", available_stacks(PROJECT_DIR))
def test_every_stack_file_disables_the_default_kubernetes_provider(stack):
    config = load_stack_config(PROJECT_DIR, stack)
    assert config.values["pulumi:disable-default-providers"] == '["kubernetes"]'


def test_a_private_api_endpoint_is_refused_with_the_reason():
    error = config_error("dev", {"cluster": {"apiEndpoint": "private"}})
    (message,) = messages(error)
    assert message.startswith(
        "ack-inference:cluster.apiEndpoint: `private` is refused: the provider's `get_cluster_credential` only "
        "returns the kubeconfig of the public endpoint"
    )
    assert "`cluster.mode: kubeconfig`" in message
