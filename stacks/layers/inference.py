"""PLACEHOLDER (being written): builds the inference layer from settings and the cloud layer."""

from stacks.layers import CloudLayer, InferenceLayer
from stacks.settings import StackSettings


def build_inference(settings: StackSettings, cloud: CloudLayer) -> InferenceLayer:
    raise NotImplementedError("inference layer not written yet")
