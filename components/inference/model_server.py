"""A model server: vLLM (or the llm-d inference simulator) Deployment, ClusterIP Service, PodDisruptionBudget and,
when autoscaled, a HorizontalPodAutoscaler on the waiting-queue depth per pod.

The pure builders below return the Kubernetes objects; `ModelServer` registers them. Pods carry the label
`app: <name>`, which the InferencePool selects, and serve HTTP (OpenAI API, `/health`, `/metrics`) on
`MODEL_SERVER_PORT`, the port the pool targets.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from components import hardening, kube
from components.constants import OSS_MOUNT_PATH
from components.placement import Placement
from components.vocabulary import BakedSource, HuggingFaceSource, ModelScopeSource, OssSource, ZoneSpread

MODEL_SERVER_PORT = 8000
PORT_NAME = "http"
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
CONTAINER_NAME = "vllm"
SELECTOR_LABEL = "app"
GPU_RESOURCE = "nvidia.com/gpu"
ZONE_LABEL = "topology.kubernetes.io/zone"
# Upstream GIE's vLLM manifests: a 30 s preStop pause lets the gateway and the endpoint picker stop sending new
# requests before SIGTERM, then in-flight requests (streamed completions) get the rest of 130 s to finish.
PRE_STOP_SLEEP_SECONDS = 30
TERMINATION_GRACE_SECONDS = 130
STARTUP_PROBE_PERIOD_SECONDS = 10
SIMULATOR_STARTUP_SECONDS = 300
# The simulator is a small Go server: upstream requests only 10m CPU; a memory limit keeps a leak contained.
SIMULATOR_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
# Pulling a multi-GB image comes on top of the model load before a rollout can finish.
IMAGE_PULL_ALLOWANCE_SECONDS = 1800
HF_TOKEN_KEY = "token"
CHAT_TEMPLATE_FILE = "chat-template.jinja"
CHAT_TEMPLATE_DIR = "/etc/vllm/chat-template"
HF_CACHE_PATH = "/models/hf-cache"
MODELSCOPE_CACHE_PATH = "/models/modelscope-cache"
OSS_CSI_DRIVER = "ossplugin.csi.alibabacloud.com"
SCALE_DOWN_STABILIZATION_SECONDS = 600
SCALE_DOWN_PERIOD_SECONDS = 300


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True)


class BakedWeights(_Spec):
    kind: BakedSource = "baked"
    path: str


class HuggingFaceWeights(_Spec):
    kind: HuggingFaceSource = "huggingFace"
    repo: str
    revision: str | None = None
    cache_size_gib: int
    # A ReadWriteMany class shares one download cache between pods; None gives each pod an emptyDir.
    cache_storage_class: str | None = None
    token: bool = False


class ModelScopeWeights(_Spec):
    """Downloaded from ModelScope by vLLM itself: with `VLLM_USE_MODELSCOPE=true`, `--model`/`--tokenizer` are
    ModelScope ids fetched with modelscope's `snapshot_download(cache_dir=--download-dir, revision=--revision)`
    (vllm/envs.py, vllm/transformers_utils/config.py; the vllm-openai image installs modelscope)."""

    kind: ModelScopeSource = "modelScope"
    repo: str
    revision: str | None = None
    cache_size_gib: int
    cache_storage_class: str | None = None


# Weights a pod downloads at start-up into a cache volume.
DownloadedWeights = HuggingFaceWeights | ModelScopeWeights


class OssWeights(_Spec):
    kind: OssSource = "oss"
    bucket: str
    endpoint: str
    path: str
    ram_role: str | None = None
    credentials_secret: str | None = None
    mount_options: str
    capacity_gib: int


class Lora(_Spec):
    max_loras: int
    max_lora_rank: int
    max_cpu_loras: int | None = None
    adapters: tuple[tuple[str, str], ...] = ()


class Autoscaling(_Spec):
    """HPA bounds and target: `metric` is the per-pod waiting-queue depth as the metrics adapter serves it."""

    min_replicas: int
    max_replicas: int
    metric: str
    target_waiting_requests: int


class ModelServerSpec(_Spec):
    name: str
    namespace: str
    replicas: int
    image: str
    simulator: bool = False
    weights: BakedWeights | HuggingFaceWeights | ModelScopeWeights | OssWeights
    served_model_name: str
    gpus: int
    max_model_len: int | None = None
    gpu_memory_utilization: float
    prefix_caching: bool | None = None
    lora: Lora | None = None
    chat_template: str | None = None
    cpu: str
    memory: str
    shm_size_gib: int
    startup_seconds: int
    max_surge: int
    env: dict[str, str] = {}
    # The container's command (None: the image's ENTRYPOINT) and flags appended after the rendered ones.
    command: tuple[str, ...] | None = None
    extra_args: tuple[str, ...] = ()
    placement: Placement = Placement()
    # Labels other layers ask for (e.g. ARMS's `alibabacloud.com/inference-workload`); on pods only, never in
    # the selector, so adding one later rolls the pods instead of failing on the immutable selector.
    extra_pod_labels: dict[str, str] = {}
    image_pull_secret: str | None = None
    # Spread the pods across zones (production): how strictly, or None for no constraint.
    zone_spread: ZoneSpread | None = None
    # With autoscaling, `replicas` is only the count at creation; the HPA owns it afterwards.
    autoscaling: Autoscaling | None = None

    @property
    def model_path(self) -> str:
        """What vLLM loads (`--model`)."""
        if isinstance(self.weights, DownloadedWeights):
            return self.weights.repo
        if isinstance(self.weights, OssWeights):
            return OSS_MOUNT_PATH
        return self.weights.path

    def object_name(self, role: str) -> str:
        return f"{self.name}-{role}"


def selector_labels(spec: ModelServerSpec) -> dict[str, str]:
    return {SELECTOR_LABEL: spec.name}


def pod_labels(spec: ModelServerSpec) -> dict[str, str]:
    return {**spec.placement.pod_labels, **spec.extra_pod_labels, **selector_labels(spec)}


def scrape_annotations(port: int = MODEL_SERVER_PORT) -> dict[str, str]:
    """Annotation-driven Prometheus discovery (ARMS default discovery, community Prometheus); values are strings."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": METRICS_PATH}


def vllm_args(spec: ModelServerSpec) -> list[str]:
    args = ["--model", spec.model_path]
    if isinstance(spec.weights, DownloadedWeights) and spec.weights.revision:
        args += ["--revision", spec.weights.revision]
    if isinstance(spec.weights, ModelScopeWeights):
        args += ["--download-dir", MODELSCOPE_CACHE_PATH]
    if spec.served_model_name != spec.model_path:
        args += ["--served-model-name", spec.served_model_name]
    args += [
        "--port",
        str(MODEL_SERVER_PORT),
        "--tensor-parallel-size",
        str(spec.gpus),
        "--gpu-memory-utilization",
        str(spec.gpu_memory_utilization),
    ]
    if spec.max_model_len is not None:
        args += ["--max-model-len", str(spec.max_model_len)]
    if spec.prefix_caching is not None:
        args.append("--enable-prefix-caching" if spec.prefix_caching else "--no-enable-prefix-caching")
    if spec.chat_template is not None:
        args += ["--chat-template", posixpath.join(CHAT_TEMPLATE_DIR, CHAT_TEMPLATE_FILE)]
    if spec.lora is not None:
        lora = spec.lora
        args += ["--enable-lora", "--max-loras", str(lora.max_loras), "--max-lora-rank", str(lora.max_lora_rank)]
        if lora.max_cpu_loras is not None:
            args += ["--max-cpu-loras", str(lora.max_cpu_loras)]
        if lora.adapters:
            args += ["--lora-modules", *(f"{name}={path}" for name, path in lora.adapters)]
    return args


def simulator_args(spec: ModelServerSpec) -> list[str]:
    """The llm-d inference simulator answers as `--model` (the served name), like the vLLM server it stands in for."""
    args = ["--model", spec.served_model_name, "--port", str(MODEL_SERVER_PORT)]
    if spec.lora is not None:
        args += ["--max-loras", str(spec.lora.max_loras)]
        if spec.lora.adapters:
            args += ["--lora-modules", *(json.dumps({"name": name}) for name, _ in spec.lora.adapters)]
    return args


def _http_probe(period: int, failures: int, timeout: int = 5) -> dict[str, Any]:
    return {
        "httpGet": {"path": HEALTH_PATH, "port": PORT_NAME, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _probes(startup_seconds: int) -> dict[str, Any]:
    # `/health` answers only once the model is loaded: the startup probe holds liveness off for the whole load
    # (download, weight load, graph capture), then readiness takes a pod out of the pool within ~15 s and
    # liveness restarts a wedged engine after a minute.
    return {
        "startupProbe": _http_probe(STARTUP_PROBE_PERIOD_SECONDS, startup_seconds // STARTUP_PROBE_PERIOD_SECONDS),
        "readinessProbe": _http_probe(5, 3),
        "livenessProbe": _http_probe(10, 6),
    }


def _env(spec: ModelServerSpec) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    if spec.simulator:
        env += [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ]
    elif isinstance(spec.weights, HuggingFaceWeights):
        env += [{"name": "HF_HOME", "value": HF_CACHE_PATH}, *weights_access(spec)[0]]
    elif isinstance(spec.weights, ModelScopeWeights):
        env += weights_access(spec)[0]
    env += [{"name": name, "value": value} for name, value in sorted(spec.env.items())]
    return env


def _volumes(spec: ModelServerSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Volumes and the container's mounts."""
    if spec.simulator:
        return [], []
    volumes: list[dict[str, Any]] = [
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{spec.shm_size_gib}Gi"}}
    ]
    mounts: list[dict[str, Any]] = [{"name": "shm", "mountPath": "/dev/shm"}]
    if spec.chat_template is not None:
        volumes.append({"name": "chat-template", "configMap": {"name": spec.object_name("chat-template")}})
        mounts.append({"name": "chat-template", "mountPath": CHAT_TEMPLATE_DIR, "readOnly": True})
    weights = spec.weights
    if isinstance(weights, OssWeights):
        _, weight_volumes, weight_mounts = weights_access(spec)
        volumes += weight_volumes
        mounts += weight_mounts
    elif isinstance(weights, DownloadedWeights):
        role, path = cache_volume(weights)
        if weights.cache_storage_class:
            volumes.append({"name": role, "persistentVolumeClaim": {"claimName": spec.object_name(role)}})
        else:
            volumes.append({"name": role, "emptyDir": {"sizeLimit": f"{weights.cache_size_gib}Gi"}})
        mounts.append({"name": role, "mountPath": path})
    return volumes, mounts


def cache_volume(weights: DownloadedWeights) -> tuple[str, str]:
    """The download cache's volume (and claim) role and its mount path."""
    if isinstance(weights, ModelScopeWeights):
        return "modelscope-cache", MODELSCOPE_CACHE_PATH
    return "hf-cache", HF_CACHE_PATH


def weights_access(spec: ModelServerSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Env, volumes and mounts another pod needs to read this server's weights or tokenizer (the benchmark)."""
    weights = spec.weights
    if isinstance(weights, HuggingFaceWeights) and weights.token:
        secret = {"name": spec.object_name("hf-token"), "key": HF_TOKEN_KEY}
        return [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": secret}}], [], []
    if isinstance(weights, ModelScopeWeights):
        # The tokenizer (benchmark) is a ModelScope id too.
        return [{"name": "VLLM_USE_MODELSCOPE", "value": "true"}], [], []
    if isinstance(weights, OssWeights):
        claim = {"claimName": spec.object_name("weights"), "readOnly": True}
        return (
            [],
            [{"name": "weights", "persistentVolumeClaim": claim}],
            [{"name": "weights", "mountPath": OSS_MOUNT_PATH, "readOnly": True}],
        )
    return [], [], []


def _container(spec: ModelServerSpec, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    if spec.simulator:
        args = simulator_args(spec)
        resources = SIMULATOR_RESOURCES
        startup = SIMULATOR_STARTUP_SECONDS
    else:
        args = vllm_args(spec)
        gpus = str(spec.gpus)
        resources = {
            "requests": {"cpu": spec.cpu, "memory": spec.memory, GPU_RESOURCE: gpus},
            "limits": {"memory": spec.memory, GPU_RESOURCE: gpus},
        }
        startup = spec.startup_seconds
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        **({"command": list(spec.command)} if spec.command is not None else {}),
        "args": [*args, *spec.extra_args],
        "ports": [{"name": PORT_NAME, "containerPort": MODEL_SERVER_PORT, "protocol": "TCP"}],
        "resources": resources,
        **_probes(startup),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}},
        "securityContext": hardening.CONTAINER_SECURITY_CONTEXT,
    }
    env = _env(spec)
    if env:
        container["env"] = env
    if mounts:
        container["volumeMounts"] = mounts
    return container


def rollout_seconds(spec: ModelServerSpec) -> int:
    """How long a rollout may take: image pull plus the model load."""
    startup = SIMULATOR_STARTUP_SECONDS if spec.simulator else spec.startup_seconds
    return startup + IMAGE_PULL_ALLOWANCE_SECONDS


def deployment(spec: ModelServerSpec) -> dict[str, Any]:
    volumes, mounts = _volumes(spec)
    pod_spec: dict[str, Any] = {
        # A Service named like an env var prefix (e.g. `vllm`) would inject VLLM_PORT and break vLLM's startup.
        "enableServiceLinks": False,
        # vLLM (and the simulator) never call the Kubernetes API, yet parse untrusted prompts: no credential to
        # steal. OSS weights with RRSA are mounted by the CSI plugin, which assumes the RAM role itself.
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "containers": [_container(spec, mounts)],
        **spec.placement.pod_spec_fields(),
        **hardening.pod_fields(spec.image_pull_secret),
    }
    if volumes:
        pod_spec["volumes"] = volumes
    if spec.zone_spread is not None:
        pod_spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": spec.zone_spread,
                "labelSelector": {"matchLabels": selector_labels(spec)},
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=selector_labels(spec)),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector_labels(spec)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": spec.max_surge, "maxUnavailable": 0 if spec.max_surge else 1},
            },
            "progressDeadlineSeconds": rollout_seconds(spec),
            "template": {
                "metadata": {
                    "labels": pod_labels(spec),
                    "annotations": {
                        **scrape_annotations(MODEL_SERVER_PORT),
                        "kubectl.kubernetes.io/default-container": CONTAINER_NAME,
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def service(spec: ModelServerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=selector_labels(spec)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": MODEL_SERVER_PORT,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }


def disruption_budget(spec: ModelServerSpec) -> dict[str, Any]:
    # One pod at a time: a node drain never takes several GPU servers (minutes to reload each) down at once, and a
    # single-replica server can still be drained. Pods that never got ready may always be evicted.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=selector_labels(spec)),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(spec)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def autoscaler(spec: ModelServerSpec) -> dict[str, Any]:
    autoscaling = spec.autoscaling
    assert autoscaling is not None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": kube.metadata(spec.name, spec.namespace, labels=selector_labels(spec)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": autoscaling.min_replicas,
            "maxReplicas": autoscaling.max_replicas,
            # A Pods metric: the HPA averages the adapter's per-pod values over this Deployment's pods. A pod still
            # loading its model has no value yet and counts as idle when scaling up, which damps overshoot.
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": autoscaling.metric},
                        "target": {"type": "AverageValue", "averageValue": str(autoscaling.target_waiting_requests)},
                    },
                }
            ],
            "behavior": {
                # A queue means requests are already waiting: react at once, doubling (at least 2 pods) a minute.
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 60},
                        {"type": "Pods", "value": 2, "periodSeconds": 60},
                    ],
                },
                # A removed pod takes minutes to load again: only remove after the queue stayed short for the whole
                # window, one pod at a time.
                "scaleDown": {
                    "stabilizationWindowSeconds": SCALE_DOWN_STABILIZATION_SECONDS,
                    "selectPolicy": "Min",
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": SCALE_DOWN_PERIOD_SECONDS}],
                },
            },
        },
    }


def chat_template_config_map(spec: ModelServerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": kube.metadata(spec.object_name("chat-template"), spec.namespace, labels=selector_labels(spec)),
        "data": {CHAT_TEMPLATE_FILE: spec.chat_template},
    }


def hf_token_secret(spec: ModelServerSpec, token: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": kube.metadata(spec.object_name("hf-token"), spec.namespace, labels=selector_labels(spec)),
        "type": "Opaque",
        "stringData": {HF_TOKEN_KEY: token},
    }


def cache_claim(spec: ModelServerSpec) -> dict[str, Any]:
    weights = spec.weights
    assert isinstance(weights, DownloadedWeights) and weights.cache_storage_class
    role, _ = cache_volume(weights)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": kube.metadata(spec.object_name(role), spec.namespace, labels=selector_labels(spec)),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": weights.cache_storage_class,
            "resources": {"requests": {"storage": f"{weights.cache_size_gib}Gi"}},
        },
    }


def oss_volume_name(spec: ModelServerSpec) -> str:
    # PersistentVolumes are cluster-wide: the namespace keeps two stacks' servers of one name apart.
    return f"{spec.namespace}-{spec.object_name('weights')}"


def oss_persistent_volume(spec: ModelServerSpec) -> dict[str, Any]:
    weights = spec.weights
    assert isinstance(weights, OssWeights)
    name = oss_volume_name(spec)
    attributes = {
        "bucket": weights.bucket,
        "url": weights.endpoint,
        "path": weights.path,
        "otherOpts": weights.mount_options,
    }
    csi: dict[str, Any] = {"driver": OSS_CSI_DRIVER, "volumeHandle": name, "volumeAttributes": attributes}
    if weights.ram_role:
        attributes.update(authType="rrsa", roleName=weights.ram_role)
    else:
        csi["nodePublishSecretRef"] = {"name": weights.credentials_secret, "namespace": spec.namespace}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": kube.metadata(name, None, labels=selector_labels(spec)),
        "spec": {
            "capacity": {"storage": f"{weights.capacity_gib}Gi"},
            "accessModes": ["ReadOnlyMany"],
            # The bucket outlives the stack: deleting the volume never touches the weights.
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": spec.namespace, "name": spec.object_name("weights")},
            "csi": csi,
        },
    }


def oss_claim(spec: ModelServerSpec) -> dict[str, Any]:
    weights = spec.weights
    assert isinstance(weights, OssWeights)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": kube.metadata(spec.object_name("weights"), spec.namespace, labels=selector_labels(spec)),
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            # Empty class: bind to the static volume above instead of provisioning a new one.
            "storageClassName": "",
            "volumeName": oss_volume_name(spec),
            "resources": {"requests": {"storage": f"{weights.capacity_gib}Gi"}},
        },
    }


@dataclass(frozen=True)
class ModelServerArgs:
    spec: ModelServerSpec
    # The Hugging Face token as a secret Output; needed when `spec.weights.token` is set.
    hf_token: pulumi.Output[str] | None = None
    # What the pods need first: capacity (GPU node pool, virtual node add-on) and their namespace.
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class ModelServer(pulumi.ComponentResource):
    """One model server: its Deployment, Service, PodDisruptionBudget, optional HorizontalPodAutoscaler and what its
    pods mount."""

    # What the other layers wait for (the namespace's first objects) and route to.
    deployment: pulumi.CustomResource
    service: pulumi.CustomResource
    # The pods' selector labels and the serving port (pools, network policies, metrics).
    selector_labels: dict[str, str]
    port: int
    # How long a new pod may take before it serves (image pull plus model load).
    startup_budget_seconds: int

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:inference:ModelServer", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        mounted: list[pulumi.Resource] = []
        if spec.chat_template is not None:
            mounted.append(kube.create(f"{name}-chat-template", chat_template_config_map(spec), child))
        weights = spec.weights
        if not spec.simulator and isinstance(weights, HuggingFaceWeights) and weights.token:
            if args.hf_token is None:
                raise ValueError(f"model server {name}: the Hugging Face token is missing")
            mounted.append(kube.create(f"{name}-hf-token", hf_token_secret(spec, args.hf_token), child))
        if not spec.simulator and isinstance(weights, DownloadedWeights) and weights.cache_storage_class:
            mounted.append(kube.create(f"{name}-{cache_volume(weights)[0]}", cache_claim(spec), child))
        if not spec.simulator and isinstance(weights, OssWeights):
            volume = kube.create(f"{name}-weights-volume", oss_persistent_volume(spec), child)
            mounted.append(
                kube.create(
                    f"{name}-weights", oss_claim(spec), pulumi.ResourceOptions(parent=self, depends_on=[volume])
                )
            )
        timeout = f"{rollout_seconds(spec) // 60}m"
        self.deployment = kube.create(
            f"{name}-deployment",
            deployment(spec),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.depends_on, *mounted],
                custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
                # The autoscaler owns the replica count; `replicas` only seeds it at creation.
                ignore_changes=["spec.replicas"] if spec.autoscaling else None,
            ),
        )
        self.service = kube.create(f"{name}-service", service(spec), child)
        kube.create(f"{name}-pdb", disruption_budget(spec), child)
        if spec.autoscaling is not None:
            kube.create(
                f"{name}-autoscaler",
                autoscaler(spec),
                pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, self.deployment]),
            )
        self.selector_labels = selector_labels(spec)
        self.port = MODEL_SERVER_PORT
        self.startup_budget_seconds = rollout_seconds(spec)
        self.register_outputs(
            {
                "startupBudgetSeconds": self.startup_budget_seconds,
                "deployment": self.deployment,
                "service": self.service,
                "selectorLabels": self.selector_labels,
                "port": self.port,
            }
        )
