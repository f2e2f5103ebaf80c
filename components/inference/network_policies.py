"""Network isolation of the model servers and the self-hosted endpoint pickers: one NetworkPolicy per workload
admits traffic to each of its ports only from the peers that need it (model servers: the gateway's Envoy proxies,
the endpoint pickers that read `/metrics`, the metrics scrapers; pickers: the proxies on gRPC, the scrapers on
metrics); every other pod in the cluster is refused. Egress stays open (weights downloads, the API server).

Selecting the pods makes them isolated for ingress, so the policy also blocks any other port they open (the
kubelet's probes come from the node, which NetworkPolicies always admit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from components import kube

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class Peer(BaseModel):
    """Pods allowed in: those with `pod_labels` (every pod when empty) in `namespace` (the server's own when
    None)."""

    model_config = ConfigDict(frozen=True)

    namespace: str | None = None
    pod_labels: dict[str, str] = {}


class IngressRule(BaseModel):
    """`peers` may reach `port`; a rule without peers admits nobody (it is left out: in a NetworkPolicy an empty
    `from` admits every source)."""

    model_config = ConfigDict(frozen=True)

    port: int
    peers: tuple[Peer, ...]


class IsolatedServer(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    pod_labels: dict[str, str]
    rules: tuple[IngressRule, ...]


def policy_name(server: IsolatedServer) -> str:
    return f"{server.name}-ingress"


def _peer(peer: Peer) -> dict[str, Any]:
    selected: dict[str, Any] = {}
    if peer.namespace is not None:
        selected["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: peer.namespace}}
    if peer.pod_labels or peer.namespace is None:
        selected["podSelector"] = {"matchLabels": dict(peer.pod_labels)}
    return selected


def network_policy(server: IsolatedServer) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": kube.metadata(policy_name(server), server.namespace, labels=server.pod_labels),
        "spec": {
            "podSelector": {"matchLabels": dict(server.pod_labels)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [_peer(peer) for peer in rule.peers], "ports": [{"protocol": "TCP", "port": rule.port}]}
                for rule in server.rules
                if rule.peers
            ],
        },
    }


@dataclass(frozen=True)
class NetworkIsolationArgs:
    servers: list[IsolatedServer]
    # What the policies need first: their namespace.
    depends_on: list[pulumi.Resource]


class NetworkIsolation(pulumi.ComponentResource):
    # The NetworkPolicies' names.
    policies: list[str]

    def __init__(self, name: str, args: NetworkIsolationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:security:NetworkIsolation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        for server in args.servers:
            kube.create(f"{name}-{server.name}", network_policy(server), child)
        self.policies = [policy_name(server) for server in args.servers]
        self.register_outputs({"policies": self.policies})
