"""Provider mocks that imitate what the alicloud and kubernetes providers compute and read back.

Each mocked resource returns the state the provider stores after its Read: the outputs it computes (ids in the
provider's formats, derived from the logical name so two runs give the same plan) and the inputs normalised the
way its Read normalises them (`READ_BACK`). Given the states of an earlier run (`ProviderMocks(prior=...)`), a
resource keeps its id and the server's side of its state, as an update would: the idempotence check
(`tooling/offline/idempotence.py`) plans against that. Each provider-computed output that the program reads must
have an entry here, or it resolves to ``None`` under mocks.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs

from tooling.offline import catalogue

ComputedOutputs = Callable[[MockResourceArgs], dict[str, Any]]
ReadBack = Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]
InvokeResult = Callable[[MockCallArgs], dict[str, Any]]
# (type token, logical name) -> (id, state) of a resource in an earlier run.
PriorStates = Mapping[tuple[str, str], tuple[str, dict[str, Any]]]

# Type token -> the outputs the provider adds to the inputs.
COMPUTED_OUTPUTS: dict[str, ComputedOutputs] = {}
# Type token -> the inputs as the provider's Read stores them (given the prior state, if any).
READ_BACK: dict[str, ReadBack] = {}
# Invoke token -> its result.
INVOKE_RESULTS: dict[str, InvokeResult] = {}


def computed(token: str) -> Callable[[ComputedOutputs], ComputedOutputs]:
    def register(fn: ComputedOutputs) -> ComputedOutputs:
        COMPUTED_OUTPUTS[token] = fn
        return fn

    return register


def read_back(token: str) -> Callable[[ReadBack], ReadBack]:
    def register(fn: ReadBack) -> ReadBack:
        READ_BACK[token] = fn
        return fn

    return register


def invoke(token: str) -> Callable[[InvokeResult], InvokeResult]:
    def register(fn: InvokeResult) -> InvokeResult:
        INVOKE_RESULTS[token] = fn
        return fn

    return register


def mock_id(args: MockResourceArgs) -> str:
    return f"{args.name}-id"


# What the invoke being answered on this thread is about: the run's `alicloud:region`.
_CALL = threading.local()


def current_region() -> str | None:
    """The stack's `alicloud:region`, which the region-scoped data sources answer for (the default provider's)."""
    return getattr(_CALL, "region", None)


class ProviderMocks(pulumi.runtime.Mocks):
    def __init__(self, prior: PriorStates | None = None, region: str | None = None):
        self.prior: PriorStates = prior or {}
        self.region = region

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        prior_id, prior_state = self.prior.get((args.typ, args.name), (None, None))
        reader = READ_BACK.get(args.typ)
        state = reader(dict(args.inputs), prior_state) if reader is not None else dict(args.inputs)
        if _is_kubernetes_object(args.typ):
            # The kubernetes provider names objects that have no explicit name.
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", args.name)
            state["metadata"] = metadata
        extra = COMPUTED_OUTPUTS.get(args.typ)
        if extra is not None:
            state.update(extra(args))
        resource_id = state.pop("id", None) or mock_id(args)
        return prior_id or resource_id, state

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        result = INVOKE_RESULTS.get(args.token)
        if result is None:
            raise NotImplementedError(f"no offline mock for invoke {args.token}; add one to tooling/offline/mocks.py")
        _CALL.region = self.region
        return result(args)


def _is_kubernetes_object(token: str) -> bool:
    return token.startswith("kubernetes:") and not token.startswith("kubernetes:helm.sh/")


def resource_id(prefix: str, name: str, length: int = 21) -> str:
    """An id shaped like Alibaba Cloud's (`vpc-bp1...`: prefix, lowercase letters and digits), stable per name."""
    return prefix + hashlib.sha256(name.encode()).hexdigest()[:length]


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


# Tag keys the alicloud provider drops when it reads tags back (terraform-provider-alicloud `tags.go:166`,
# `resource_alicloud_cs_kubernetes.go:1700`, `service_alicloud_cs.go:48`): ACK's own tags, and any configured
# tag with such a key, which therefore never converges.
DROPPED_TAG_KEY = re.compile(r"^(aliyun|acs:|https?://|sae\.do\.not\.delete)|^ack\.aliyun\.com$|^ack\.playeraccount$")


def _read_tags(state: dict[str, Any]) -> dict[str, Any]:
    if isinstance(state.get("tags"), dict):
        state["tags"] = {k: v for k, v in state["tags"].items() if not DROPPED_TAG_KEY.search(k)}
    return state


@read_back("alicloud:vpc/network:Network")
def _read_vpc(inputs: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    return _read_tags(inputs)


@read_back("alicloud:vpc/switch:Switch")
def _read_vswitch(inputs: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    return _read_tags(inputs)


@read_back("alicloud:vpc/natGateway:NatGateway")
def _read_nat(inputs: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    return _read_tags(inputs)


@computed("alicloud:vpc/network:Network")
def _vpc(args: MockResourceArgs) -> dict[str, Any]:
    return {
        "id": resource_id("vpc-", args.name),
        "routeTableId": resource_id("vtb-", args.name),
        "routerId": resource_id("vrt-", args.name),
        "status": "Available",
    }


@computed("alicloud:vpc/switch:Switch")
def _vswitch(args: MockResourceArgs) -> dict[str, Any]:
    return {"id": resource_id("vsw-", args.name), "status": "Available"}


@computed("alicloud:vpc/natGateway:NatGateway")
def _nat_gateway(args: MockResourceArgs) -> dict[str, Any]:
    # Comma-joined strings, not lists (terraform-provider-alicloud `resource_alicloud_nat_gateway.go:326,349`).
    return {
        "id": resource_id("ngw-", args.name),
        "snatTableIds": resource_id("stb-", args.name),
        "forwardTableIds": resource_id("ftb-", args.name),
        "status": "Available",
    }


@read_back("alicloud:ecs/eipAddress:EipAddress")
def _read_eip(inputs: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    # The API answers PostPaid/PrePaid as PayAsYouGo/Subscription (`resource_alicloud_eip_address.go:355`);
    # `bandwidth` is a string (eip:50).
    state = _read_tags(inputs)
    state["paymentType"] = {"PostPaid": "PayAsYouGo", "PrePaid": "Subscription"}.get(
        state.get("paymentType"), state.get("paymentType") or "PayAsYouGo"
    )
    if "bandwidth" in state:
        state["bandwidth"] = go_string(state["bandwidth"])
    return state


@computed("alicloud:ecs/eipAddress:EipAddress")
def _eip(args: MockResourceArgs) -> dict[str, Any]:
    # TEST-NET-3 addresses: realistic shape, never a real public IP.
    return {
        "id": resource_id("eip-", args.name),
        "ipAddress": f"203.0.113.{_stable_number(args.name, 254) + 1}",
        "status": "InUse",
    }


@computed("alicloud:ecs/eipAssociation:EipAssociation")
def _eip_association(args: MockResourceArgs) -> dict[str, Any]:
    # id `<allocation_id>:<instance_id>` (`resource_alicloud_eip_association.go:122`).
    return {"id": f"{args.inputs.get('allocationId')}:{args.inputs.get('instanceId')}"}


@computed("alicloud:vpc/snatEntry:SnatEntry")
def _snat_entry(args: MockResourceArgs) -> dict[str, Any]:
    # id `<snat_table_id>:<snat_entry_id>` (`resource_alicloud_snat_entry.go:119`).
    entry_id = resource_id("snat-", args.name)
    return {"id": f"{args.inputs.get('snatTableId')}:{entry_id}", "snatEntryId": entry_id}


@read_back("alicloud:cs/managedKubernetes:ManagedKubernetes")
def _read_managed_kubernetes(inputs: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    state = _read_tags(inputs)
    # Read sets `version` from the cluster's CurrentVersion, always `1.xx.y-aliyun.z`
    # (`resource_alicloud_cs_managed_kubernetes.go:919`): ACK creates the newest offered version, or the pinned one.
    state["version"] = (prior or {}).get("version") or catalogue.cluster_version(inputs.get("version"))
    # Read overwrites these from the API (mk:954-993); what a cluster created without them reports.
    for key, value in (("proxyMode", "ipvs"), ("clusterDomain", "cluster.local"), ("nodeCidrMask", 24)):
        state.setdefault(key, value)
    return state


@computed("alicloud:cs/managedKubernetes:ManagedKubernetes")
def _managed_kubernetes(args: MockResourceArgs) -> dict[str, Any]:
    # Cluster ids are `c` and 32 hex digits.
    cluster_id = resource_id("c", args.name, 32)
    return {
        "id": cluster_id,
        "securityGroupId": resource_id("sg-", args.name, 20),
        "workerRamRoleName": f"KubernetesWorkerRole-{cluster_id}",
        "slbInternet": f"203.0.113.{_stable_number(args.name, 254) + 1}"
        if args.inputs.get("slbInternetEnabled", True)
        else None,
        "slbIntranet": "10.0.0.10",
    }


@read_back("alicloud:cs/nodePool:NodePool")
def _read_node_pool(inputs: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    state = _read_tags(inputs)
    # `desired_size` is a string in the schema (`resource_alicloud_cs_kubernetes_node_pool.go:158`), kubelet
    # numbers and booleans come back as strings (np:2062-2444).
    if "desiredSize" in state:
        state["desiredSize"] = go_string(state["desiredSize"])
    kubelet = state.get("kubeletConfiguration")
    if isinstance(kubelet, dict):
        state["kubeletConfiguration"] = {k: go_string(v) for k, v in kubelet.items()}
    # Defaults the provider fills (np:200,642,609).
    if isinstance(state.get("scalingConfig"), dict):
        state["scalingConfig"] = {"enable": True, **state["scalingConfig"]}
    state.setdefault("installCloudMonitor", True)
    return state


@computed("alicloud:cs/nodePool:NodePool")
def _node_pool(args: MockResourceArgs) -> dict[str, Any]:
    # id `<cluster_id>:<nodepool_id>` (np:33); node pool ids are `np` and 32 hex digits.
    node_pool_id = resource_id("np", args.name, 32)
    return {
        "id": f"{args.inputs.get('clusterId')}:{node_pool_id}",
        "nodePoolId": node_pool_id,
        "scalingGroupId": resource_id("asg-", args.name, 20),
    }


@read_back("alicloud:cs/kubernetesAddon:KubernetesAddon")
def _read_kubernetes_addon(inputs: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any]:
    state = dict(inputs)
    configured = inputs.get("config")
    if configured:
        # The server keeps the configuration it accepted; Read stores `json.Marshal(merge(configured, server))`:
        # only keys on both sides, with the server's values (`resource_alicloud_cs_kubernetes_addon.go:102-125`).
        wanted = json.loads(configured)
        server = json.loads((prior or {}).get("config") or "null") or wanted
        state["config"] = go_json_marshal(_merge(wanted, server))
    return state


def _merge(configured: Any, server: Any) -> Any:
    if isinstance(configured, dict) and isinstance(server, dict):
        return {key: _merge(configured[key], server[key]) for key in configured if key in server}
    return server


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


def go_json_marshal(value: Any) -> str:
    """Go's `json.Marshal` of decoded JSON: compact, map keys sorted, `<`, `>`, `&` escaped, numbers as float64
    formats them (an integral value without a fraction)."""
    text = json.dumps(_go_numbers(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _go_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def go_string(value: Any) -> Any:
    """A scalar as the provider stores it in a string attribute (Terraform's string conversion)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value


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
        # Sorted by name, descending (`data_source_alicloud_cs_kubernetes_addons.go:161`).
        for name, version in sorted(OFFERED_ADDONS.items(), reverse=True)
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


class CatalogueError(pulumi.RunError):
    """The offline catalogue has no entry for what the program asks about; a `RunError`, so the offline plan
    prints one line."""


def _region_entry(region: str | None) -> dict[str, Any]:
    entry = catalogue.region(region or "")
    if entry is None:
        known = ", ".join(sorted(catalogue.data()["regions"]))
        # The real data sources fail for an unknown region id (InvalidRegionId); a real region missing here
        # needs an entry, with its source, in tooling/offline/catalogue.json.
        raise CatalogueError(f"alicloud:region `{region}` is not in the offline catalogue (regions: {known})")
    return entry


@invoke("alicloud:index/getZones:getZones")
def _zones(args: MockCallArgs) -> dict[str, Any]:
    zones = sorted(_region_entry(current_region()).get("zones", []))
    if not zones:
        raise CatalogueError("no zones")  # the data source fails on an empty result (data_source_alicloud_zones.go)
    detailed = bool(args.args.get("enableDetails"))
    return {
        "id": str(_stable_number("".join(zones), 10**9)),
        "ids": zones,
        # Sorted by id; `local_name` and the `available_*` lists are filled only with enable_details (d-zones:424).
        "zones": [
            {
                "id": zone,
                "localName": "",
                "availableInstanceTypes": sorted(catalogue.instance_types()) if detailed else [],
                "availableResourceCreations": ["Instance", "VSwitch", "Disk"] if detailed else [],
                "availableDiskCategories": ["cloud_essd", "cloud_efficiency", "cloud_ssd"] if detailed else [],
                "multiZoneIds": [],
                "slbSlaveZoneIds": [],
            }
            for zone in zones
        ],
    }


@invoke("alicloud:vpc/getEnhancedNatAvailableZones:getEnhancedNatAvailableZones")
def _enhanced_nat_zones(args: MockCallArgs) -> dict[str, Any]:
    zones = sorted(_region_entry(current_region()).get("enhancedNatZones", []))
    # `ids` are the zones' local names, not their ids (data_source_alicloud_enhanced_nat_available_zones.go:83).
    return {
        "id": "enhanced-nat-zones",
        "ids": ["" for _ in zones],
        "zones": [{"zoneId": zone, "localName": ""} for zone in zones],
    }


@invoke("alicloud:ecs/getInstanceTypes:getInstanceTypes")
def _instance_types(args: MockCallArgs) -> dict[str, Any]:
    zones = _region_entry(current_region()).get("zones", [])
    zone = args.args.get("availabilityZone")
    worker = args.args.get("kubernetesNodeRole") == "Worker"
    found = []
    for type_id, facts in sorted(catalogue.instance_types().items()):
        if zone and zone not in zones:
            continue
        # `kubernetes_node_role: Worker` drops ecs.t5 and types under 2 vCPU or 4 GiB (d-instance_types:402-421).
        if worker and (type_id.startswith("ecs.t5") or facts["cpu"] < 2 or facts["memoryGiB"] < 4):
            continue
        found.append(
            {
                "id": type_id,
                "family": type_id.rsplit(".", 1)[0].split("-")[0],
                "availabilityZones": [zone] if zone else list(zones),
                "cpuCoreCount": facts["cpu"],
                "memorySize": float(facts["memoryGiB"]),
                # The GPU count is a string (d-instance_types:517).
                "gpus": [{"amount": str(facts["gpus"]), "category": facts.get("gpuSpec", "")}] if facts["gpus"] else [],
                "burstableInstances": [],
                "localStorages": [],
                "eniAmount": 4,
                "eniIpv6AddressQuantity": 0,
                "eniPrivateIpAddressQuantity": 15,
                "eniQuantity": 4,
                "maximumQueueNumberPerEni": 0,
                "nvmeSupport": "unsupported",
                "price": "",
                "primaryEniQueueNumber": 0,
                "secondaryEniQueueNumber": 0,
                "totalEniQueueQuantity": 0,
            }
        )
    return {"id": str(_stable_number(zone or "all", 10**9)), "ids": [t["id"] for t in found], "instanceTypes": found}


@invoke("alicloud:cs/getKubernetesVersion:getKubernetesVersion")
def _kubernetes_version(args: MockCallArgs) -> dict[str, Any]:
    wanted = args.args.get("kubernetesVersion")
    versions = [v for v in catalogue.kubernetes_versions() if not wanted or v == wanted]
    return {
        # The real id is the current time (d-cs_kubernetes_version:105); a fixed one keeps plans reproducible.
        "id": "kubernetes-versions",
        "clusterType": args.args.get("clusterType"),
        "metadatas": [{"version": v, "runtimes": [{"name": "containerd", "version": "1.6.36"}]} for v in versions],
    }
