"""PLACEHOLDER (being written): builds the cloud layer from settings."""

from stacks.layers import CloudLayer
from stacks.settings import StackSettings


def build_cloud(settings: StackSettings) -> CloudLayer:
    raise NotImplementedError("cloud layer not written yet")
