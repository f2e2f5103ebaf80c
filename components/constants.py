"""Names the stack settings share with the components, in a module without SDK imports: the config models
(`stacks.settings`) load without the Kubernetes or Alibaba Cloud SDK."""

from pathlib import Path

# Chat templates shipped with the project (`<name>.jinja`), mounted into the model servers.
CHAT_TEMPLATES_DIR = Path(__file__).resolve().parent / "inference" / "chat_templates"
# Where a model server mounts OSS-hosted weights read-only (`components.inference.model_server`).
OSS_MOUNT_PATH = "/models/weights"
# ACK's load-balancer Service annotations, set on the gateway's Service (`components.inference.gateway_security`).
LOAD_BALANCER_ANNOTATION_PREFIX = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
ADDRESS_TYPE_ANNOTATION = f"{LOAD_BALANCER_ANNOTATION_PREFIX}address-type"
# The command of upstream's vLLM manifests, and the vllm-openai image's ENTRYPOINT up to v0.11.0 (from v0.11.1 it
# is `vllm serve`, which takes the same flags): what a copied image with weights baked in is run with.
VLLM_SERVER_COMMAND = ("python3", "-m", "vllm.entrypoints.openai.api_server")
# The vLLM flags the model server renders (`components.inference.model_server.vllm_args`), each with the key that
# sets it: `models[].extraArgs` may not set them a second time (argparse keeps the last, silently).
MANAGED_VLLM_FLAGS = {
    "--model": "source",
    "--revision": "source.revision",
    "--download-dir": "source (the download cache)",
    "--served-model-name": "servedModelName",
    "--port": "the pool's target port, fixed at 8000",
    "--tensor-parallel-size": "gpusPerReplica",
    "--gpu-memory-utilization": "gpuMemoryUtilization",
    "--max-model-len": "maxModelLen",
    "--enable-prefix-caching": "prefixCaching",
    "--no-enable-prefix-caching": "prefixCaching",
    "--chat-template": "chatTemplate",
    "--enable-lora": "lora",
    "--max-loras": "lora.maxLoras",
    "--max-lora-rank": "lora.maxLoraRank",
    "--max-cpu-loras": "lora.maxCpuLoras",
    "--lora-modules": "lora.adapters",
}
# The environment variables the model server sets from other keys: `models[].env` may not set them.
MANAGED_ENV = {
    "HF_TOKEN": "hfToken",
    "HUGGING_FACE_HUB_TOKEN": "hfToken",  # huggingface_hub's legacy name for the same token
    "HF_HOME": "source (the download cache)",
    "VLLM_USE_MODELSCOPE": "source.type",
    "VLLM_USE_V1": "lora (set for LoRA on vLLM versions whose V1 engine lacks it)",
    "POD_NAME": "mode (the simulator's pod name)",
    "NAMESPACE": "mode (the simulator's namespace)",
}
# Namespaces every cluster this program targets already has, so creating one fails with AlreadyExists:
# Kubernetes' initial namespaces (kubernetes.io/docs/concepts/overview/working-with-objects/namespaces,
# "Initial namespaces"), the gateway add-on's `envoy-gateway-system` (ACK Gateway with Inference Extension: its
# controller Deployment `envoy-gateway` runs there) and the ARMS Prometheus add-on's `arms-prom` (ACK docs,
# "Managed Service for Prometheus": its agents run there).
GATEWAY_ADDON_NAMESPACE = "envoy-gateway-system"
ARMS_NAMESPACE = "arms-prom"
PRESET_NAMESPACES = (
    "default",
    "kube-node-lease",
    "kube-public",
    "kube-system",
    GATEWAY_ADDON_NAMESPACE,
    ARMS_NAMESPACE,
)
