"""A self-hosted endpoint picker (GIE `epp` v1.x) for one InferencePool, for gateways that do not run one.

Mirrors upstream's v1.0.2 manifests and inferencepool chart: ext_proc gRPC on 9002 (Service port with
`appProtocol: http2`, what the pool's `endpointPickerRef` names), gRPC health on 9003, metrics on 9090,
kebab-case v1 flags, the scorer plugins in a ConfigMap, RBAC to watch its pool and pods. The TLS choice is
explicit: `--secure-serving` is always passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import yaml
from pydantic import BaseModel, ConfigDict

from components import hardening, kube
from components.inference.inference_routing import OBJECTIVE_API_VERSION, POOL_GROUPS, X_K8S_GROUP
from components.placement import Placement
from components.vocabulary import PickerTls, RoutingStrategy

EXT_PROC_PORT = 9002
HEALTH_PORT = 9003
METRICS_PORT = 9090
METRICS_PORT_NAME = "http-metrics"
METRICS_PATH = "/metrics"
CONFIG_DIR = "/config"
CONFIG_FILE = "default-plugins.yaml"
HEALTH_SERVICE = "inference-extension"
SELECTOR_LABEL = "app"
# Upstream: mirror the longest grace period of the pool's pods, so requests in flight keep their picker.
TERMINATION_GRACE_SECONDS = 130
# The `nonroot` user and group of the distroless image the picker ships in (gcr.io/distroless/static:nonroot).
# Set explicitly so the kubelet can check `runAsNonRoot` against a numeric user.
NONROOT_ID = 65532
# The picker writes nothing to disk: it reads its config from the ConfigMap, logs to stderr and, with
# `--secure-serving`, generates its self-signed certificate in memory (upstream's
# createSelfSignedTLSCertificate), so its root filesystem is read-only and it needs no writable volume.
POD_SECURITY_CONTEXT = {
    **hardening.POD_SECURITY_CONTEXT,
    "runAsNonRoot": True,
    "runAsUser": NONROOT_ID,
    "runAsGroup": NONROOT_ID,
}
CONTAINER_SECURITY_CONTEXT = {**hardening.CONTAINER_SECURITY_CONTEXT, "readOnlyRootFilesystem": True}
_OBJECTIVE_GROUP = OBJECTIVE_API_VERSION.split("/")[0]


class PickerSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    pool_name: str
    image: str
    replicas: int
    tls: PickerTls
    routing_strategy: RoutingStrategy
    # The KV-cache metric to read when the model server's vLLM no longer exports the picker's default.
    kv_cache_metric: str | None = None
    cpu: str
    memory: str
    placement: Placement = Placement()
    image_pull_secret: str | None = None
    # A Prometheus Operator scrapes the metrics port (a ServiceMonitor): give the scraper a token to present.
    metrics_scraped: bool = False

    @property
    def high_availability(self) -> bool:
        return self.replicas > 1


def selector_labels(name: str) -> dict[str, str]:
    """The labels of the pods of the picker named `name`."""
    return {SELECTOR_LABEL: name}


def labels(spec: PickerSpec) -> dict[str, str]:
    return selector_labels(spec.name)


def plugins_config(spec: PickerSpec) -> str:
    """Scorer plugins: queue depth and KV-cache use (ACK's DEFAULT strategy), plus prefix-cache affinity for
    PREFIX_CACHE; weights as upstream's inferencepool chart."""
    scorers = {"queue-scorer": 2, "kv-cache-utilization-scorer": 2}
    if spec.routing_strategy == "PREFIX_CACHE":
        scorers["prefix-cache-scorer"] = 3
    config = {
        "apiVersion": f"{X_K8S_GROUP}/v1alpha1",
        "kind": "EndpointPickerConfig",
        "plugins": [{"type": scorer} for scorer in scorers],
        "schedulingProfiles": [
            {"name": "default", "plugins": [{"pluginRef": s, "weight": w} for s, w in scorers.items()]}
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def args(spec: PickerSpec) -> list[str]:
    flags = [
        "--pool-name", spec.pool_name,
        "--pool-namespace", spec.namespace,
        "--pool-group", POOL_GROUPS["v1"],
        "--grpc-port", str(EXT_PROC_PORT),
        "--grpc-health-port", str(HEALTH_PORT),
        "--metrics-port", str(METRICS_PORT),
        "--config-file", f"{CONFIG_DIR}/{CONFIG_FILE}",
        f"--secure-serving={'true' if spec.tls == 'selfSigned' else 'false'}",
        "--zap-encoder", "json",
    ]  # fmt: skip
    if spec.kv_cache_metric is not None:
        flags += ["--kv-cache-usage-percentage-metric", spec.kv_cache_metric]
    if spec.high_availability:
        flags.append("--ha-enable-leader-election")
    return flags


def _grpc_probe(service: str, period: int) -> dict[str, Any]:
    return {"grpc": {"port": HEALTH_PORT, "service": service}, "initialDelaySeconds": 5, "periodSeconds": period}


def deployment(spec: PickerSpec) -> dict[str, Any]:
    # With leader election only the leader serves: upstream's chart probes `readiness` (leader) and `liveness`
    # separately, and replaces pods with Recreate so two leaders never overlap.
    readiness, liveness = ("readiness", "liveness") if spec.high_availability else (HEALTH_SERVICE, HEALTH_SERVICE)
    container = {
        "name": "epp",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args(spec),
        "env": [
            {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "ports": [
            {"name": "grpc", "containerPort": EXT_PROC_PORT, "protocol": "TCP"},
            {"name": "grpc-health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": _grpc_probe(readiness, 2),
        "livenessProbe": _grpc_probe(liveness, 10),
        "resources": {"requests": {"cpu": spec.cpu, "memory": spec.memory}, "limits": {"memory": spec.memory}},
        "volumeMounts": [{"name": "plugins-config", "mountPath": CONFIG_DIR, "readOnly": True}],
        "securityContext": CONTAINER_SECURITY_CONTEXT,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=labels(spec)),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": labels(spec)},
            "strategy": {"type": "Recreate"} if spec.high_availability else {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels(spec)},
                "spec": {
                    "serviceAccountName": spec.name,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "containers": [container],
                    "volumes": [{"name": "plugins-config", "configMap": {"name": f"{spec.name}-plugins"}}],
                    **spec.placement.pod_spec_fields(),
                    **hardening.pod_fields(spec.image_pull_secret),
                    "securityContext": POD_SECURITY_CONTEXT,
                },
            },
        },
    }


def service(spec: PickerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=labels(spec)),
        "spec": {
            "type": "ClusterIP",
            "selector": labels(spec),
            "ports": [
                {
                    "name": "grpc-ext-proc",
                    "port": EXT_PROC_PORT,
                    "targetPort": "grpc",
                    "protocol": "TCP",
                    "appProtocol": "http2",
                },
                {"name": METRICS_PORT_NAME, "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }


def disruption_budget(spec: PickerSpec) -> dict[str, Any]:
    """With several replicas a node drain keeps one: Envoy fails closed, so no picker means no inference."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=labels(spec)),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(spec)}},
    }


def config_map(spec: PickerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": kube.metadata(f"{spec.name}-plugins", spec.namespace, labels=labels(spec)),
        "data": {CONFIG_FILE: plugins_config(spec)},
    }


def service_account(spec: PickerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=labels(spec)),
    }


def role(spec: PickerSpec) -> dict[str, Any]:
    read = ["get", "watch", "list"]
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": read},
        {"apiGroups": [POOL_GROUPS["v1"]], "resources": ["inferencepools"], "verbs": read},
        {"apiGroups": [_OBJECTIVE_GROUP], "resources": ["inferenceobjectives"], "verbs": read},
    ]
    if spec.high_availability:
        rules += [
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": [*read, "create", "update", "patch"],
            },
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=labels(spec)),
        "rules": rules,
    }


def _subjects(spec: PickerSpec) -> list[dict[str, Any]]:
    return [{"kind": "ServiceAccount", "name": spec.name, "namespace": spec.namespace}]


def role_binding(spec: PickerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=labels(spec)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": spec.name},
        "subjects": _subjects(spec),
    }


def auth_reviewer_name(spec: PickerSpec) -> str:
    # Cluster-wide: the namespace keeps two stacks' pickers of one name apart.
    return f"{spec.namespace}-{spec.name}-auth-reviewer"


def cluster_role(spec: PickerSpec) -> dict[str, Any]:
    """The metrics endpoint authenticates scrapers with token and subject access reviews (controller-runtime's
    `filters.WithAuthenticationAndAuthorization`, which epp v1.0.2's runner sets): a scraper's token must be
    allowed `get` on the non-resource URL `/metrics`. As upstream's inferencepool chart (rbac.yaml) does when
    Prometheus is enabled, the picker's own service account is, and its token is what the scraper presents."""
    rules = [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
    ]
    if spec.metrics_scraped:
        rules.append({"nonResourceURLs": [METRICS_PATH], "verbs": ["get"]})
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": kube.metadata(auth_reviewer_name(spec), None, labels=labels(spec)),
        "rules": rules,
    }


def metrics_token_name(spec: PickerSpec) -> str:
    return f"{spec.name}-metrics-token"


def metrics_token(spec: PickerSpec) -> dict[str, Any]:
    """A token of the picker's service account for the scraper (upstream's chart: epp-sa-token-secret.yaml); the
    token controller fills `data.token` of a `kubernetes.io/service-account-token` Secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": kube.metadata(
            metrics_token_name(spec),
            spec.namespace,
            labels=labels(spec),
            annotations={"kubernetes.io/service-account.name": spec.name},
        ),
    }


def cluster_role_binding(spec: PickerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": kube.metadata(auth_reviewer_name(spec), None, labels=labels(spec)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": auth_reviewer_name(spec)},
        "subjects": _subjects(spec),
    }


@dataclass(frozen=True)
class EndpointPickerArgs:
    spec: PickerSpec
    # What the picker needs first: capacity and its namespace.
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class EndpointPicker(pulumi.ComponentResource):
    # The Service the InferencePool's `extensionRef` names, and its ext-proc port.
    service: str
    port: int

    def __init__(self, name: str, args: EndpointPickerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:inference:EndpointPicker", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        prerequisites = kube.create_each(
            name,
            (
                ("service-account", service_account),
                ("role", role),
                ("role-binding", role_binding),
                ("auth-reviewer", cluster_role),
                ("auth-reviewer-binding", cluster_role_binding),
                ("plugins", config_map),
            ),
            spec,
            child,
        )
        kube.create(
            f"{name}-deployment",
            deployment(spec),
            pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, *prerequisites]),
        )
        kube.create(f"{name}-service", service(spec), child)
        if spec.metrics_scraped:
            kube.create(
                f"{name}-metrics-token",
                metrics_token(spec),
                pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, *prerequisites]),
            )
        if spec.high_availability:
            kube.create(f"{name}-pdb", disruption_budget(spec), child)
        self.service = spec.name
        self.port = EXT_PROC_PORT
        self.register_outputs({"service": self.service, "port": self.port})
