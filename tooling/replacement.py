"""Which input changes make the engine replace a resource instead of updating it, per resource type we deploy.

A Pulumi bridged provider replaces a resource when a changed input is ForceNew in the upstream Terraform schema;
pulumi-kubernetes replaces an object when a changed path is in its `forceNewProperties` table (and always when
`metadata.name` or `metadata.namespace` changes). Every row names its source, as cited in the project's research
notes: `tfp <file>:<line>` is `alicloud/resource_alicloud_<file>.go` of aliyun/terraform-provider-alicloud tag
v2.0.0-beta3 (the v2 line pulumi-alicloud 4.0.0 bridges); `pk8s <file>:<line>` is
`provider/pkg/provider/<file>` of pulumi/pulumi-kubernetes (commit 94977969).
"""

from __future__ import annotations

from dataclasses import dataclass

from tooling.offline.recording import Registration


@dataclass(frozen=True)
class Rule:
    paths: tuple[str, ...]  # input paths (the engine's camelCase names); a change at or below one replaces
    source: str


REPLACE_ON: dict[str, Rule] = {
    "alicloud:cs/managedKubernetes:ManagedKubernetes": Rule(
        (
            "profile",
            "podCidr",
            "serviceCidr",
            "nodeCidrMask",
            "proxyMode",
            "ipStack",
            "clusterDomain",
            "serviceAccountIssuer",
            "apiAudiences",
            "autoMode",
        ),
        "tfp cs_managed_kubernetes.go:64,109,114,119,140,147,204,325,330,449,456",
    ),
    "alicloud:cs/nodePool:NodePool": Rule(
        (
            "autoMode",
            "cisEnabled",
            "clusterId",
            "deploymentSetId",
            "instanceMetadataOptions",
            "loginAsNonRoot",
            "nodeNameMode",
            "ramRoleName",
            "securityGroupId",
            "securityGroupIds",
            "securityHardeningOs",
            "socEnabled",
            "teeConfig",
            "type",
        ),
        "tfp cs_kubernetes_node_pool.go:38,65,71,153,206,542,648,718,829,836,843,848,950,966",
    ),
    "alicloud:cs/kubernetesAddon:KubernetesAddon": Rule(("clusterId", "name"), "tfp cs_kubernetes_addon.go:33,38"),
    "alicloud:cs/autoscalingConfig:AutoscalingConfig": Rule(("clusterId",), "tfp cs_autoscaling_config.go:36"),
    "alicloud:vpc/network:Network": Rule(("ipv6CidrBlock", "isDefault", "userCidrs"), "tfp vpc.go:74,169,180"),
    "alicloud:vpc/switch:Switch": Rule(
        ("cidrBlock", "isDefault", "vpcId", "zoneId", "availabilityZone"), "tfp vswitch.go:32,60,77,87,100"
    ),
    "alicloud:vpc/natGateway:NatGateway": Rule(
        (
            "internetChargeType",
            "paymentType",
            "instanceChargeType",
            "vpcId",
            "privateLinkEnabled",
            "accessMode",
            "availabilityMode",
        ),
        "tfp nat_gateway.go:47,73,81,123,150,155,178",
    ),
    "alicloud:vpc/snatEntry:SnatEntry": Rule(
        ("snatTableId", "sourceCidr", "sourceVswitchId"), "tfp snat_entry.go:47,52,59"
    ),
    "alicloud:ecs/eipAddress:EipAddress": Rule(
        (
            "allocationId",
            "highDefinitionMonitorLogStatus",
            "internetChargeType",
            "ipAddress",
            "isp",
            "netmode",
            "paymentType",
            "publicIpAddressPoolId",
            "securityProtectionTypes",
            "zone",
            "instanceChargeType",
        ),
        "tfp eip_address.go:40,69,76,83,89,110,117,135,145,156,168",
    ),
    "alicloud:ecs/eipAssociation:EipAssociation": Rule(
        ("allocationId", "instanceId", "instanceType", "privateIpAddress", "vpcId"),
        "tfp eip_association.go:30,39,44,56,61",
    ),
    # Kubernetes: the API server also rejects these fields' changes (immutable), so an update could not work.
    "kubernetes:apps/v1:Deployment": Rule(("spec.selector",), "pk8s diff.go:164-176 (apps/v1 selector immutable)"),
    "kubernetes:apps/v1:DaemonSet": Rule(("spec.selector",), "pk8s diff.go:164-176"),
    "kubernetes:apps/v1:StatefulSet": Rule(
        (
            "spec.podManagementPolicy",
            "spec.revisionHistoryLimit",
            "spec.selector",
            "spec.serviceName",
            "spec.volumeClaimTemplates",
        ),
        "pk8s diff.go:196",
    ),
    "kubernetes:batch/v1:Job": Rule(
        ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
        "pk8s diff.go:178 (Job template, completions and selector immutable)",
    ),
    "kubernetes:core/v1:Service": Rule(("spec.clusterIP",), "pk8s diff.go:158"),
    "kubernetes:core/v1:PersistentVolume": Rule(
        (
            "spec.awsElasticBlockStore",
            "spec.azureDisk",
            "spec.azureFile",
            "spec.cephfs",
            "spec.cinder",
            "spec.csi",
            "spec.fc",
            "spec.flexVolume",
            "spec.flocker",
            "spec.gcePersistentDisk",
            "spec.glusterfs",
            "spec.hostPath",
            "spec.iscsi",
            "spec.local",
            "spec.nfs",
            "spec.photonPersistentDisk",
            "spec.portworxVolume",
            "spec.quobyte",
            "spec.rbd",
            "spec.scaleIO",
            "spec.storageos",
            "spec.vsphereVolume",
        ),
        "pk8s diff.go:87 (volume source immutable)",
    ),
    "kubernetes:core/v1:PersistentVolumeClaim": Rule(
        ("spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"), "pk8s diff.go:111"
    ),
    # Replaced on any data change unless the provider sets enableConfigMapMutable / enableSecretMutable (we don't).
    "kubernetes:core/v1:ConfigMap": Rule(("data", "binaryData"), "pk8s diff.go:32, provider.go:696"),
    "kubernetes:core/v1:Secret": Rule(("type", "data", "stringData"), "pk8s diff.go:28,155, provider.go:712"),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": Rule(("roleRef",), "pk8s diff.go:65,192"),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": Rule(("roleRef",), "pk8s diff.go:65,192"),
    "kubernetes:storage.k8s.io/v1:StorageClass": Rule(("parameters", "provisioner"), "pk8s diff.go:70"),
    # With clusterIdentifier set (the program sets the cluster id), only its change replaces the provider, and
    # with it every object the provider manages.
    "pulumi:providers:kubernetes": Rule(("clusterIdentifier",), "pk8s provider.go:490,507,553"),
}
# Inputs the provider reads at create only: a change plans an update that does nothing to the live resource.
IGNORED_AFTER_CREATE: dict[str, Rule] = {
    "alicloud:cs/managedKubernetes:ManagedKubernetes": Rule(
        (
            "addons",
            "newNatGateway",
            "slbInternetEnabled",
            "zoneIds",
            "podVswitchIds",
            "workerVswitchIds",
            "isEnterpriseSecurityGroup",
            "loadBalancerSpec",
            "userCa",
            "namePrefix",
        ),
        "tfp cs_managed_kubernetes.go:1123 (ModifyCluster sends none of them), 683, 687",
    ),
}


def ignored_after_create_paths(type_token: str, changed_paths: list[str]) -> list[str]:
    rule = IGNORED_AFTER_CREATE.get(type_token)
    if rule is None:
        return []
    inputs = [path.removeprefix("inputs.") for path in changed_paths if path.startswith("inputs.")]
    return sorted({p.split("[")[0].split(".")[0] for p in inputs if any(_hits(p, prefix) for prefix in rule.paths)})


# Every Kubernetes object: a new name or namespace is a new object (pk8s diff.go:25).
KUBERNETES_IDENTITY = Rule(("metadata.name", "metadata.namespace"), "pk8s diff.go:25")

# Losing one of these loses a running cluster, its nodes, its network or its data.
STATEFUL = {
    "alicloud:cs/managedKubernetes:ManagedKubernetes": "cluster",
    "alicloud:cs/nodePool:NodePool": "node pool",
    "alicloud:vpc/network:Network": "VPC",
    "alicloud:vpc/switch:Switch": "vSwitch",
    "alicloud:vpc/natGateway:NatGateway": "NAT gateway",
    "alicloud:ecs/eipAddress:EipAddress": "EIP (its address is released)",
    "kubernetes:core/v1:PersistentVolume": "volume",
    "kubernetes:core/v1:PersistentVolumeClaim": "volume claim",
}

UPDATE = "update in place"
CREATE_BEFORE_DELETE = "replace (create before delete)"
DELETE_BEFORE_CREATE = "replace (delete before create)"


@dataclass(frozen=True)
class Classification:
    action: str
    reasons: tuple[str, ...]  # the changed input paths that force replacement
    source: str = ""


def _hits(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def classify(before: Registration, after: Registration, changed_paths: list[str]) -> Classification:
    """`changed_paths` are flattened paths such as `inputs.spec.selector.matchLabels.app`."""
    rules = [REPLACE_ON[after.type]] if after.type in REPLACE_ON else []
    if after.is_kubernetes_object:
        rules.append(KUBERNETES_IDENTITY)
    inputs = [path.removeprefix("inputs.") for path in changed_paths if path.startswith("inputs.")]
    reasons, sources = [], []
    for rule in rules:
        hit = sorted({p for p in inputs if any(_hits(p, prefix) for prefix in rule.paths)})
        if hit:
            reasons += hit
            sources.append(rule.source)
    if not reasons:
        return Classification(UPDATE, ())
    return Classification(_replace_mode(before, after), tuple(reasons), "; ".join(sources))


def _replace_mode(before: Registration, after: Registration) -> str:
    if after.delete_before_replace:
        return DELETE_BEFORE_CREATE
    if after.is_kubernetes_object:
        # A fixed metadata.name unchanged in the same namespace cannot exist twice: pulumi-kubernetes deletes the
        # old object first (pk8s provider.go:1647), so the object is briefly absent.
        old, new = before.inputs.get("metadata") or {}, after.inputs.get("metadata") or {}
        if new.get("name") and (old.get("name"), old.get("namespace")) == (new.get("name"), new.get("namespace")):
            return DELETE_BEFORE_CREATE
    return CREATE_BEFORE_DELETE


def kubernetes_identity(resource: Registration) -> tuple[str, str, str, str] | None:
    """(apiVersion, kind, namespace, name) of an object with a fixed name; None otherwise."""
    if not resource.is_kubernetes_object:
        return None
    metadata = resource.inputs.get("metadata") or {}
    if not metadata.get("name"):
        return None
    return (
        str(resource.inputs.get("apiVersion", "")),
        str(resource.inputs.get("kind", "")),
        str(metadata.get("namespace") or ""),
        str(metadata["name"]),
    )
