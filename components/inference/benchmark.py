"""The benchmark Job: `vllm bench serve` from the model server's image against the gateway's plain and
inference-aware listeners, printing TTFT, inter-token latency and throughput side by side (see
`benchmark_script.py`). Read it with `kubectl logs job/<name>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from components import hardening, kube
from components.inference.gateway import GATEWAY_API_GROUP
from components.placement import Placement

SCRIPT = Path(__file__).with_name("benchmark_script.py")
MOUNT_DIR = "/bench"
SCRIPT_FILE = "bench.py"
CONFIG_FILE = "bench.json"
# Time for the Gateway address, the image's start and the tokenizer, on top of the requests themselves.
SETUP_ALLOWANCE_SECONDS = 1800


class BenchmarkSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    gateway_name: str
    # Listener name -> port, plain listener first.
    listeners: dict[str, int]
    image: str
    model: str
    tokenizer: str
    num_prompts: int
    request_rate: float
    input_len: int
    output_len: int
    prefix_len: int
    seed: int
    # The model server's env and mounts the tokenizer needs (Hugging Face token and cache, OSS weights).
    env: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    volume_mounts: list[dict[str, Any]] = []
    placement: Placement = Placement()
    image_pull_secret: str | None = None


def labels(spec: BenchmarkSpec) -> dict[str, str]:
    return {"app": spec.name}


def run_config(spec: BenchmarkSpec) -> dict[str, Any]:
    return {
        "namespace": spec.namespace,
        "gateway": spec.gateway_name,
        "listeners": spec.listeners,
        "model": spec.model,
        "tokenizer": spec.tokenizer,
        "numPrompts": spec.num_prompts,
        "requestRate": spec.request_rate,
        "inputLen": spec.input_len,
        "outputLen": spec.output_len,
        "prefixLen": spec.prefix_len,
        "seed": spec.seed,
    }


def config_map(spec: BenchmarkSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=labels(spec)),
        "data": {SCRIPT_FILE: SCRIPT.read_text(), CONFIG_FILE: json.dumps(run_config(spec), indent=2)},
    }


def service_account(spec: BenchmarkSpec) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": kube.metadata(spec.name, spec.namespace)}


def role(spec: BenchmarkSpec) -> dict[str, Any]:
    """Reading its Gateway's status is all the Job may do: that is where the load balancer address is."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": kube.metadata(spec.name, spec.namespace),
        "rules": [
            {
                "apiGroups": [GATEWAY_API_GROUP],
                "resources": ["gateways"],
                "resourceNames": [spec.gateway_name],
                "verbs": ["get"],
            }
        ],
    }


def role_binding(spec: BenchmarkSpec) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": kube.metadata(spec.name, spec.namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": spec.name},
        "subjects": [{"kind": "ServiceAccount", "name": spec.name, "namespace": spec.namespace}],
    }


def deadline_seconds(spec: BenchmarkSpec) -> int:
    """Twice the time the arrivals take per listener, plus set-up, before Kubernetes stops the Job."""
    per_listener = spec.num_prompts / spec.request_rate
    return int(2 * per_listener * len(spec.listeners)) + SETUP_ALLOWANCE_SECONDS


def job(spec: BenchmarkSpec) -> dict[str, Any]:
    container = {
        "name": "bench",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", f"{MOUNT_DIR}/{SCRIPT_FILE}", f"{MOUNT_DIR}/{CONFIG_FILE}"],
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
        "volumeMounts": [{"name": "bench", "mountPath": MOUNT_DIR, "readOnly": True}, *spec.volume_mounts],
        "securityContext": hardening.CONTAINER_SECURITY_CONTEXT,
    }
    if spec.env:
        container["env"] = spec.env
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": kube.metadata(
            spec.name,
            spec.namespace,
            labels=labels(spec),
            # The Job runs for many minutes; `pulumi up` returns at once and the results are read from its log.
            annotations={"pulumi.com/skipAwait": "true"},
        ),
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds(spec),
            "template": {
                "metadata": {"labels": labels(spec)},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": spec.name,
                    "enableServiceLinks": False,
                    "containers": [container],
                    "volumes": [{"name": "bench", "configMap": {"name": spec.name}}, *spec.volumes],
                    **spec.placement.pod_spec_fields(),
                    **hardening.pod_fields(spec.image_pull_secret),
                },
            },
        },
    }


@dataclass(frozen=True)
class BenchmarkArgs:
    spec: BenchmarkSpec
    # The Job starts only when everything it measures is in place (model servers ready, routes, gateway), and
    # after its namespace.
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Benchmark(pulumi.ComponentResource):
    # The Job's name (`kubectl logs job/<name>`).
    job: str

    def __init__(self, name: str, args: BenchmarkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:inference:Benchmark", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        prerequisites = kube.create_each(
            name,
            (
                ("config", config_map),
                ("service-account", service_account),
                ("role", role),
                ("role-binding", role_binding),
            ),
            spec,
            child,
        )
        kube.create(
            f"{name}-job", job(spec), pulumi.ResourceOptions(parent=self, depends_on=[*prerequisites, *args.depends_on])
        )
        self.job = spec.name
        self.register_outputs({"job": self.job})
