"""Registers Kubernetes object bodies (plain dicts with API keys) as Pulumi resources of the matching type.

Components build bodies with pure functions and hand them here, so a body is tested once and registered the
same way everywhere: core kinds through their typed classes, everything else as a CustomResource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic.alias_generators import to_snake

_TYPED = {
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}


def create(name: str, body: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """The resource for one object body; its inputs are the body, key for key."""
    api_version, kind = body["apiVersion"], body["kind"]
    fields = {to_snake(key): value for key, value in body.items() if key not in ("apiVersion", "kind")}
    typed = _TYPED.get((api_version, kind))
    if typed is None:
        return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind, **fields, opts=opts)
    return typed(name, **fields, opts=opts)


def create_each(
    name: str, builders: Iterable[tuple[str, Callable[[Any], dict[str, Any]]]], spec: Any, opts: pulumi.ResourceOptions
) -> list[pulumi.CustomResource]:
    """One resource per `(role, builder)`, named `<name>-<role>`, each from `builder(spec)`."""
    return [create(f"{name}-{role}", build(spec), opts) for role, build in builders]


def metadata(name: str, namespace: str | None, **extra: Any) -> dict[str, Any]:
    """Object metadata; cluster-scoped objects pass no namespace. Empty label/annotation maps are left out."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update((key, value) for key, value in extra.items() if value)
    return meta
