"""The program: read the typed settings, then build each layer and export what a user needs next."""

from __future__ import annotations

import pulumi

from stacks.config_loader import load_settings
from stacks.layers.cloud import build_cloud
from stacks.layers.inference import build_inference
from stacks.layers.observability import build_observability, model_server_pod_labels
from stacks.settings import StackSettings


def main() -> None:
    # Settings are read before anything else so that a config mistake registers no resource.
    settings = load_settings()
    for name, value in build(settings).items():
        pulumi.export(name, value)


def build(settings: StackSettings) -> dict[str, pulumi.Input]:
    """Composes the layers; returns the stack outputs."""
    cloud = build_cloud(settings)
    # The observability layer decides which labels the model-server pods carry for it (ARMS discovery).
    inference = build_inference(
        settings, cloud, {model.name: model_server_pod_labels(settings, model) for model in settings.models}
    )
    observability = build_observability(settings, cloud, inference)
    return {**cloud.outputs, **inference.outputs, **observability.outputs}
