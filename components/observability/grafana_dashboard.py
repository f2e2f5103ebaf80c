"""A Grafana dashboard delivered as a ConfigMap that Grafana's dashboard sidecar loads."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

# kube-prometheus-stack's Grafana sidecar loads every ConfigMap with this label (its default label and value).
SIDECAR_LABEL = ("grafana_dashboard", "1")


def dashboard_config_map(name: str, namespace: str, file_name: str, dashboard_json: str) -> dict[str, Any]:
    label, value = SIDECAR_LABEL
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {label: value, "app.kubernetes.io/part-of": "ack-inference"},
        },
        "data": {file_name: dashboard_json},
    }


class GrafanaDashboardArgs(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    namespace: str
    file_name: str
    dashboard_json: str
    provider: k8s.Provider
    # What must exist first (the namespace's creator).
    depends_on: list[pulumi.Resource] = []


class GrafanaDashboard(pulumi.ComponentResource):
    # The ConfigMap as `<namespace>/<name>`.
    config_map: str

    def __init__(self, name: str, args: GrafanaDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:observability:GrafanaDashboard", name, None, opts)
        body = dashboard_config_map(name, args.namespace, args.file_name, args.dashboard_json)
        k8s.core.v1.ConfigMap(
            f"{name}-config-map",
            metadata=body["metadata"],
            data=body["data"],
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.depends_on),
        )
        self.config_map = f"{args.namespace}/{name}"
        self.register_outputs({"configMap": self.config_map})
