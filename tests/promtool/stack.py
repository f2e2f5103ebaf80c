"""The observability layer under the provider mocks, with hand-built cloud and inference layers.

Lets the observability tests run the real `build_observability` before (and independently of) the other layers.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components.placement import Placement
from stacks.config_loader import parse_settings
from stacks.layers import CloudLayer, InferenceLayer, ModelServerRef
from stacks.layers.observability import build_observability
from stacks.settings.observability import ObservabilitySettings
from tests.harness import stack_config
from tooling.offline.recording import Plan
from tooling.offline.run import simulate

NAMESPACE = "llm"
SERVERS = ("vllm-llama2-7b-pool", "qwen-pool")
# The model servers' startup budget: image pull and model load (30 minutes).
STARTUP_BUDGET_SECONDS = 1800


def observe(
    observability: dict[str, Any] | None = None, arms: bool = False, servers: tuple[str, ...] = SERVERS
) -> Plan:
    """One run: the dev stack's settings with `observability` replaced, a Deployment per name in `servers`;
    `arms` makes the cloud layer report the ARMS add-on as what installs the monitoring CRDs."""

    def program() -> None:
        settings = parse_settings(*stack_config("dev").project_values())
        settings = settings.model_copy(
            update={"observability": ObservabilitySettings.model_validate(observability or {})}
        )
        provider = k8s.Provider("kubernetes", kubeconfig="offline")
        installers = [alicloud.cs.KubernetesAddon("arms-prometheus", cluster_id="c", name="arms-prometheus")] * arms
        cloud = CloudLayer(
            provider=provider,
            gpu_placement=Placement(),
            system_placement=Placement(),
            monitoring_installers=installers,
        )
        refs = []
        for name in servers:
            deployment = k8s.apps.v1.Deployment(
                name,
                metadata={"name": name, "namespace": NAMESPACE},
                spec={"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}}},
                opts=pulumi.ResourceOptions(provider=provider),
            )
            refs.append(ModelServerRef(name, NAMESPACE, {"app": name}, 8000, STARTUP_BUDGET_SECONDS, [deployment]))
        inference = InferenceLayer(namespace=NAMESPACE, model_servers=refs, gateway_name="inference-gateway")
        for key, value in build_observability(settings, cloud, inference).outputs.items():
            pulumi.export(key, value)

    return simulate(stack_config("dev"), program=program)
