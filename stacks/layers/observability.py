"""PLACEHOLDER (being written): builds the observability layer."""

from stacks.layers import CloudLayer, InferenceLayer, ObservabilityLayer
from stacks.settings import StackSettings


def build_observability(settings: StackSettings, cloud: CloudLayer, inference: InferenceLayer) -> ObservabilityLayer:
    raise NotImplementedError("observability layer not written yet")
