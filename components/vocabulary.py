"""The enumerations the settings and the components share, each a fact of the API it names.

Each is defined here once; the config models (`stacks.settings`) and the component specs import it, so a value
the API gains or drops changes in one place. No SDK imports: the config models load without the Kubernetes or
Alibaba Cloud SDK.
"""

from typing import Literal

# --- This project ---------------------------------------------------------------------------------------------

# The stack's protection level (`tier`): `production` turns on every protection.
Tier = Literal["development", "production"]

# --- Alibaba Cloud ACK ----------------------------------------------------------------------------------------

# How this stack gets its cluster (`cluster.mode`): create an ACK cluster, use one by id, or any kubeconfig.
ClusterMode = Literal["new", "existing", "kubeconfig"]
# ACK `cs.ManagedKubernetes.cluster_spec` values.
ClusterSpec = Literal["ack.standard", "ack.pro.small", "ack.pro.xlarge", "ack.pro.2xlarge", "ack.pro.4xlarge"]
# ACK's container network plugins (the `terway-eniip` / `flannel` bootstrap add-ons).
Cni = Literal["terway", "flannel"]
# ACK API server endpoint: with or without an internet-facing SLB (`slb_internet_enabled`).
ApiEndpoint = Literal["public", "private"]
# ACK control-plane components whose logs go to SLS (`cs.ManagedKubernetes.control_plane_log_components`).
ControlPlaneComponent = Literal["apiserver", "kcm", "scheduler", "ccm", "controlplane-events"]
# Where GPU workloads run: an ACK GPU node pool or ACS serverless GPU through `ack-virtual-node`.
ComputeMode = Literal["nodePool", "acs"]
# ACK node pool autoscaler instance class (`scaling_config.type`).
ScalingType = Literal["cpu", "gpu"]
# ACK load-balancer annotation `...-address-type`.
AddressType = Literal["intranet", "internet"]

# --- Kubernetes -------------------------------------------------------------------------------------------------

# Node taint effects (core/v1 `Taint.effect`).
TaintEffect = Literal["NoSchedule", "NoExecute", "PreferNoSchedule"]
# Topology spread `whenUnsatisfiable` (core/v1 `TopologySpreadConstraint`).
ZoneSpread = Literal["ScheduleAnyway", "DoNotSchedule"]

# --- Gateway API Inference Extension (GIE) and ACK's gateway add-on --------------------------------------------

# Inference Extension API versions: v1alpha1 (GIE v0.1.0), v1alpha2 (v0.2.0-v0.5.1), v1 (v1.0.0+).
InferenceApiVersion = Literal["v1alpha1", "v1alpha2", "v1"]
# The versions one model's pool may have of its own (a v1alpha2 -> v1 migration runs both side by side).
ModelApiVersion = Literal["v1alpha2", "v1"]
# InferenceModel `criticality` (GIE v1alpha1/v1alpha2); v1 maps it to InferenceObjective `priority`.
Criticality = Literal["Critical", "Standard", "Sheddable"]
# How a pool joins a listener: ACK's `attach-to` annotation, or an HTTPRoute backendRef to the pool.
Attachment = Literal["annotation", "backendRef"]
# ACK's `inference.networking.x-k8s.io/routing-strategy` annotation.
RoutingStrategy = Literal["DEFAULT", "PREFIX_CACHE"]
# InferencePool `extensionRef.failureMode` (GIE).
FailureMode = Literal["FailOpen", "FailClose"]
# Who runs a pool's endpoint picker: ACK's add-on, or this stack (GIE `epp` image).
PickerMode = Literal["managed", "selfHosted"]
# GIE `epp` serving: `--secure-serving=true` with a self-signed certificate, or `false`.
PickerTls = Literal["selfSigned", "plaintext"]

# --- Envoy Gateway ----------------------------------------------------------------------------------------------

# BackendTrafficPolicy `rateLimit.local.rules[].limit.unit`.
RateLimitUnit = Literal["Second", "Minute", "Hour", "Day"]

# --- vLLM and the model server ----------------------------------------------------------------------------------

# What a model server runs: vLLM, or the llm-d inference simulator (CPU only, fake completions).
ServerMode = Literal["vllm", "simulator"]
# Where the weights come from: baked into the image, the Hugging Face Hub, ModelScope (vLLM's
# `VLLM_USE_MODELSCOPE`), or an OSS bucket (ossfs CSI).
BakedSource = Literal["baked"]
HuggingFaceSource = Literal["huggingFace"]
ModelScopeSource = Literal["modelScope"]
OssSource = Literal["oss"]
WeightsSource = Literal[BakedSource, HuggingFaceSource, ModelScopeSource, OssSource]
# vLLM `--max-lora-rank` choices.
LoraRank = Literal[8, 16, 32, 64, 128, 256]
