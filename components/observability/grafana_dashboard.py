"""A Grafana dashboard delivered as a ConfigMap that Grafana's dashboard sidecar loads."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from components import kube

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


class Reader(BaseModel):
    """A service account (Grafana's dashboard sidecar) granted reads of the ConfigMaps in the dashboard's
    namespace, so the sidecar needs no cluster-wide role."""

    model_config = ConfigDict(frozen=True)

    namespace: str
    service_account: str


def reader_role(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "ack-inference"}},
        # What the k8s-sidecar's namespaced watch calls: list and watch, get on a single object.
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
    }


def reader_binding(name: str, namespace: str, reader: Reader) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "ack-inference"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": reader.service_account, "namespace": reader.namespace}],
    }


class GrafanaDashboardArgs(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    namespace: str
    file_name: str
    dashboard_json: str
    provider: k8s.Provider
    # Grafana's sidecar in another namespace (the self-managed stack); None: whoever loads it has access already.
    reader: Reader | None = None
    # What must exist first (the namespace's creator).
    depends_on: list[pulumi.Resource] = []


class GrafanaDashboard(pulumi.ComponentResource):
    # The ConfigMap as `<namespace>/<name>`.
    config_map: str

    def __init__(self, name: str, args: GrafanaDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:observability:GrafanaDashboard", name, None, opts)
        body = dashboard_config_map(name, args.namespace, args.file_name, args.dashboard_json)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.depends_on)
        k8s.core.v1.ConfigMap(f"{name}-config-map", metadata=body["metadata"], data=body["data"], opts=child)
        if args.reader is not None and args.reader.namespace != args.namespace:
            role_name = f"{name}-reader"
            kube.create(f"{name}-reader-role", reader_role(role_name, args.namespace), child)
            kube.create(f"{name}-reader-binding", reader_binding(role_name, args.namespace, args.reader), child)
        self.config_map = f"{args.namespace}/{name}"
        self.register_outputs({"configMap": self.config_map})
