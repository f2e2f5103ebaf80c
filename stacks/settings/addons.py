"""ACK add-ons (`addons`): which the stack installs and manages, with their versions and configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from stacks.settings.base import ConfigModel
from stacks.settings.cluster import cluster_mode

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings


class AddonSettings(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][-a-z0-9]*$", description="Add-on name as the ACK API knows it.")
    version: str | None = Field(None, description="Add-on version; default: the newest offered at install.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Add-on configuration (merged into the add-on's server-side configuration; to clear a key "
        "set it to an empty value).",
    )


class OptionalAddonSettings(AddonSettings):
    enabled: bool = Field(False, description="Install this add-on.")


class AddonsSettings(ConfigModel):
    manage: bool | None = Field(
        None,
        description="Install and manage the add-ons. Default: on for `new` and `existing` clusters. With an "
        "`existing` cluster, `false` means they are already installed. Not available with `kubeconfig`.",
    )
    gateway_api: AddonSettings = Field(
        default_factory=lambda: AddonSettings(name="gateway-api"),
        description="The Gateway API CRDs add-on (installed before the gateway add-on).",
    )
    inference_gateway: AddonSettings = Field(
        default_factory=lambda: AddonSettings(
            name="ack-gateway-with-inference-extension", config={"enableInferenceExtension": True}
        ),
        description="ACK Gateway with Inference Extension, with the inference extension turned on.",
    )
    virtual_node: AddonSettings = Field(
        default_factory=lambda: AddonSettings(name="ack-virtual-node"),
        description="ACK Virtual Node, installed with `compute.mode: acs`.",
    )
    poseidon: AddonSettings = Field(
        default_factory=lambda: AddonSettings(name="poseidon"),
        description="Poseidon, which enforces NetworkPolicies on ACS (virtual-node) pods; installed with "
        "`compute.mode: acs` while `security.networkIsolation.enabled`.",
    )
    arms_prometheus: OptionalAddonSettings = Field(
        default_factory=lambda: OptionalAddonSettings(name="arms-prometheus"),
        description="Managed Prometheus (ARMS) add-on.",
    )


def manages_addons(settings: StackSettings) -> bool:
    if settings.addons.manage is not None:
        return settings.addons.manage
    return cluster_mode(settings) != "kubeconfig"
