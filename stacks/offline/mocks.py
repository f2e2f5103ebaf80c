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
            raise NotImplementedError(f"no offline mock for invoke {args.token}; add one to stacks/offline/mocks.py")
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
