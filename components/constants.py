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
# Namespaces every cluster this program targets already has, so creating one fails with AlreadyExists:
# Kubernetes' initial namespaces (kubernetes.io/docs/concepts/overview/working-with-objects/namespaces,
# "Initial namespaces"), the gateway add-on's `envoy-gateway-system` (ACK Gateway with Inference Extension: its
# controller Deployment `envoy-gateway` runs there) and the ARMS Prometheus add-on's `arms-prom` (ACK docs,
# "Managed Service for Prometheus": its agents run there).
PRESET_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system", "envoy-gateway-system", "arms-prom")
