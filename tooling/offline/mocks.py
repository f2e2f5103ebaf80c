"""Provider mocks that imitate what the alicloud and kubernetes providers compute.

Ids are derived from logical names so that two runs give the same plan. Each provider-computed output that
the program reads must have an entry here, or it resolves to ``None`` under mocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs

ComputedOutputs = Callable[[MockResourceArgs], dict[str, Any]]
InvokeResult = Callable[[MockCallArgs], dict[str, Any]]

# Type token -> the outputs the provider adds to the inputs.
COMPUTED_OUTPUTS: dict[str, ComputedOutputs] = {}
# Invoke token -> its result.
INVOKE_RESULTS: dict[str, InvokeResult] = {}


def computed(token: str) -> Callable[[ComputedOutputs], ComputedOutputs]:
    def register(fn: ComputedOutputs) -> ComputedOutputs:
        COMPUTED_OUTPUTS[token] = fn
        return fn

    return register


def invoke(token: str) -> Callable[[InvokeResult], InvokeResult]:
    def register(fn: InvokeResult) -> InvokeResult:
        INVOKE_RESULTS[token] = fn
        return fn

    return register


def mock_id(args: MockResourceArgs) -> str:
    return f"{args.name}-id"


class ProviderMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if _is_kubernetes_object(args.typ):
            # The kubernetes provider names objects that have no explicit name.
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", args.name)
            state["metadata"] = metadata
        extra = COMPUTED_OUTPUTS.get(args.typ)
        if extra is not None:
            state.update(extra(args))
        resource_id = state.pop("id", None) or mock_id(args)
        return resource_id, state

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        result = INVOKE_RESULTS.get(args.token)
        if result is None:
            raise NotImplementedError(f"no offline mock for invoke {args.token}; add one to tooling/offline/mocks.py")
        return result(args)


def _is_kubernetes_object(token: str) -> bool:
    return token.startswith("kubernetes:") and not token.startswith("kubernetes:helm.sh/")


# A syntactically valid kubeconfig without credentials: the offline plan never talks to a cluster.
def offline_kubeconfig(cluster_id: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {cluster_id}\n  cluster:\n    server: https://{cluster_id}.offline.invalid:6443\n"
        f"contexts:\n- name: {cluster_id}\n  context:\n    cluster: {cluster_id}\n    user: offline\n"
        f"current-context: {cluster_id}\nusers:\n- name: offline\n  user: {{}}\n"
    )


@invoke("alicloud:cs/getClusterCredential:getClusterCredential")
def _cluster_credential(args: MockCallArgs) -> dict[str, Any]:
    cluster_id = args.args.get("clusterId", "cluster")
    return {
        "id": cluster_id,
        "clusterId": cluster_id,
        "kubeConfig": offline_kubeconfig(cluster_id),
        "expiration": "2099-01-01T00:00:00Z",
        "certificateAuthorities": [],
    }


def _stable_number(text: str, modulo: int) -> int:
    """A number derived from a name, stable across runs (unlike `hash`)."""
    return sum(text.encode()) % modulo


@computed("alicloud:vpc/network:Network")
def _vpc(args: MockResourceArgs) -> dict[str, Any]:
    return {
        "id": f"vpc-{args.name}",
        "routeTableId": f"vtb-{args.name}",
        "routerId": f"vrt-{args.name}",
        "status": "Available",
    }


@computed("alicloud:vpc/switch:Switch")
def _vswitch(args: MockResourceArgs) -> dict[str, Any]:
    return {"id": f"vsw-{args.name}", "status": "Available"}


@computed("alicloud:vpc/natGateway:NatGateway")
def _nat_gateway(args: MockResourceArgs) -> dict[str, Any]:
    return {
        "id": f"ngw-{args.name}",
        "snatTableIds": f"stb-{args.name}",
        "forwardTableIds": f"ftb-{args.name}",
        "status": "Available",
    }


@computed("alicloud:ecs/eipAddress:EipAddress")
def _eip(args: MockResourceArgs) -> dict[str, Any]:
    # TEST-NET-3 addresses: realistic shape, never a real public IP.
    return {"id": f"eip-{args.name}", "ipAddress": f"203.0.113.{_stable_number(args.name, 254) + 1}", "status": "InUse"}


@computed("alicloud:vpc/snatEntry:SnatEntry")
def _snat_entry(args: MockResourceArgs) -> dict[str, Any]:
    return {"id": f"{args.inputs.get('snatTableId')}:snat-{args.name}", "snatEntryId": f"snat-{args.name}"}


@computed("alicloud:cs/managedKubernetes:ManagedKubernetes")
def _managed_kubernetes(args: MockResourceArgs) -> dict[str, Any]:
    cluster_id = f"c{args.name.replace('-', '')}0000"
    return {
        "id": cluster_id,
        # ACK picks the newest version when none is pinned.
        "version": args.inputs.get("version") or "1.33.3-aliyun.1",
        "securityGroupId": f"sg-{args.name}",
        "workerRamRoleName": f"KubernetesWorkerRole-{cluster_id}",
        "slbInternet": f"203.0.113.{_stable_number(args.name, 254) + 1}"
        if args.inputs.get("slbInternetEnabled", True)
        else None,
        "slbIntranet": "10.0.0.10",
    }


@computed("alicloud:cs/nodePool:NodePool")
def _node_pool(args: MockResourceArgs) -> dict[str, Any]:
    node_pool_id = f"np{args.name.replace('-', '')}"
    return {
        "id": f"{args.inputs.get('clusterId')}:{node_pool_id}",
        "nodePoolId": node_pool_id,
        "scalingGroupId": f"asg-{args.name}",
    }


@computed("alicloud:cs/kubernetesAddon:KubernetesAddon")
def _kubernetes_addon(args: MockResourceArgs) -> dict[str, Any]:
    name = args.inputs.get("name")
    version = args.inputs.get("version") or _offered_version(name)
    return {
        "id": f"{args.inputs.get('clusterId')}:{name}",
        "version": version,
        "nextVersion": "",
        "canUpgrade": False,
        "required": False,
    }


# What a fresh ACK Pro cluster offers (name -> newest version); the gateway names are this project's defaults,
# which no public source confirms (see docs/cluster-modes.md, add-on names).
OFFERED_ADDONS: dict[str, str] = {
    "ack-gateway-with-inference-extension": "v1.4.0-apsara.4",
    "ack-node-problem-detector": "1.2.26",
    "ack-virtual-node": "v2.14.3",
    "alb-ingress-controller": "v2.16.0-aliyun.1",
    "arms-prometheus": "1.1.31",
    "csi-plugin": "v1.33.1-7a6a9a8-aliyun",
    "csi-provisioner": "v1.33.1-7a6a9a8-aliyun",
    "flannel": "v0.15.1.22-20a397e6-aliyun",
    "gateway-api": "1.3.0-aliyun.1",
    "managed-coredns": "v1.11.3.2-f57ea7ed6-aliyun",
    "metrics-server": "v0.3.9.7-4e3a9a0-aliyun",
    "nginx-ingress-controller": "v1.11.4-aliyun.1",
    "poseidon": "v0.5.1",
    "terway-eniip": "v1.13.3",
}


def _offered_version(name: str | None) -> str:
    return OFFERED_ADDONS.get(name or "", "")


@invoke("alicloud:cs/getKubernetesAddons:getKubernetesAddons")
def _kubernetes_addons(args: MockCallArgs) -> dict[str, Any]:
    cluster_id = args.args.get("clusterId", "cluster")
    addons = [
        {
            "name": name,
            # Nothing installed yet on a new cluster: `currentVersion` is empty, `nextVersion` installable.
            "currentVersion": "",
            "nextVersion": version,
            "required": False,
            "currentConfig": "",
            "supportedActions": ["Install"],
        }
        for name, version in sorted(OFFERED_ADDONS.items())
    ]
    return {
        "id": cluster_id,
        "clusterId": cluster_id,
        "addons": addons,
        "names": [a["name"] for a in addons],
        "ids": [f"{cluster_id}:{a['name']}" for a in addons],
    }


@invoke("alicloud:cs/getKubernetesAddonMetadata:getKubernetesAddonMetadata")
def _kubernetes_addon_metadata(args: MockCallArgs) -> dict[str, Any]:
    # An empty schema is what ACK returns for an add-on without custom configuration; tests that need one
    # register their own.
    return {
        "id": f"{args.args.get('clusterId')}:{args.args.get('name')}:{args.args.get('version')}",
        "clusterId": args.args.get("clusterId"),
        "name": args.args.get("name"),
        "version": args.args.get("version"),
        "configSchema": "",
    }
