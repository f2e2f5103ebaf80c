"""The namespace that holds the inference objects, when it is not one the cluster already has."""

from __future__ import annotations

from typing import Any

import pulumi

from components import kube


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": kube.metadata(name, None)}


class Namespace(pulumi.ComponentResource):
    # The Namespace object: what the objects in it wait for.
    namespace: pulumi.CustomResource

    def __init__(self, name: str, namespace_name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:inference:Namespace", name, None, opts)
        self.namespace = kube.create(
            f"{name}-namespace", namespace(namespace_name), pulumi.ResourceOptions(parent=self)
        )
        # `name` is informational (the namespace's name), not an attribute.
        self.register_outputs({"name": namespace_name, "namespace": self.namespace})
