"""ACK add-ons installed as `cs.KubernetesAddon` resources, in order, after a preflight against the cluster.

The preflight reads the add-ons the cluster offers (`cs.get_kubernetes_addons`) and, when a configured name
is not offered, fails with the offered names that look related. When ACK publishes a config schema for the
add-on version (`cs.get_kubernetes_addon_metadata`), the configured config is validated against it. Both
checks run as soon as the cluster id is known (at preview for an existing cluster, during the update for a
new one) and feed each add-on's inputs, so a failing check stops that add-on before it is installed.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_alicloud as alicloud

# ACK's own default is 10 minutes; the gateway add-ons wait for their controllers and load balancers.
ADDON_TIMEOUTS = pulumi.CustomTimeouts(create="30m", update="30m", delete="30m")


class AddonPreflightError(pulumi.RunError):
    """The cluster cannot install an add-on as configured; a `RunError` prints without a traceback."""


@dataclass(frozen=True)
class AddonSpec:
    # Child resource suffix and the handle other add-ons use in `after`.
    role: str
    name: str
    # Where the user configures this add-on, for error messages (e.g. `ack-inference:addons.gatewayApi`).
    setting: str
    version: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    # Roles installed before this one.
    after: tuple[str, ...] = ()
    # `ack-virtual-node` must be told to delete the cloud resources it created when it is uninstalled.
    cleanup_cloud_resources: bool | None = None


@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster_id: pulumi.Input[str]
    addons: list[AddonSpec]
    # What must exist first (node pools, so the add-ons' pods can schedule).
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    # For a cluster this stack does not own: destroying the stack leaves the add-ons installed.
    retain_on_delete: bool = False

    def __post_init__(self) -> None:
        roles = [a.role for a in self.addons]
        for position, addon in enumerate(self.addons):
            missing = [r for r in addon.after if r not in roles[:position]]
            if missing:
                raise ValueError(f"add-on {addon.role} must come after {', '.join(missing)} in the list")


def related_names(name: str, offered: Sequence[str]) -> list[str]:
    """Offered add-on names that share a meaningful word with `name` or are spelled alike."""
    words = {w for w in name.split("-") if len(w) >= 4}
    sharing = {o for o in offered if words & set(o.split("-"))}
    alike = set(difflib.get_close_matches(name, offered, n=5, cutoff=0.6))
    return sorted(sharing | alike)


def not_offered_message(addon: AddonSpec, offered: Sequence[str]) -> str:
    related = related_names(addon.name, offered)
    listed = related or sorted(offered)
    label = "offered add-ons that look related" if related else "offered add-ons"
    return (
        f"{addon.setting}.name: the cluster does not offer an add-on named `{addon.name}`; {label}: "
        f"{', '.join(listed) or 'none'}. Set `{addon.setting}.name` to the right one."
    )


def config_schema_problems(addon: AddonSpec, schema_text: str) -> list[str]:
    """Our config against the add-on's published JSON schema (empty schema: nothing to check)."""
    if not schema_text or not addon.config:
        return []
    # Imported here: only an add-on that publishes a schema needs it, and it costs ~30 ms on every run.
    import jsonschema

    schema = json.loads(schema_text)
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(addon.config), key=lambda e: list(e.absolute_path)):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        problems.append(f"{addon.setting}.config{path}: {error.message}")
    return problems


class ClusterAddons(pulumi.ComponentResource):
    # By role (`AddonSpec.role`): what the layers wait for (CRD installers, virtual nodes, ARMS).
    addons: dict[str, alicloud.cs.KubernetesAddon]

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:cloud:ClusterAddons", name, None, opts)
        self._cluster_id = args.cluster_id
        catalogue = alicloud.cs.get_kubernetes_addons_output(
            cluster_id=args.cluster_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.addons = {}
        for addon in args.addons:
            offered = catalogue.addons.apply(lambda entries, addon=addon: _offered_entry(addon, entries))
            checked_config = offered.apply(lambda entry, addon=addon: self._checked_config(addon, entry))
            self.addons[addon.role] = alicloud.cs.KubernetesAddon(
                f"{name}-{addon.role}",
                cluster_id=args.cluster_id,
                name=addon.name,
                # Both inputs wait for the preflight, so a failed check stops the add-on before it is installed.
                version=offered.apply(lambda _, addon=addon: addon.version),
                config=checked_config,
                cleanup_cloud_resources=addon.cleanup_cloud_resources,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[*args.depends_on, *(self.addons[role] for role in addon.after)],
                    retain_on_delete=args.retain_on_delete,
                    custom_timeouts=ADDON_TIMEOUTS,
                ),
            )
        self.register_outputs({"addons": self.addons})

    def _checked_config(self, addon: AddonSpec, entry: Any) -> pulumi.Output[str | None] | None:
        if not addon.config:
            return None
        version = addon.version or entry.next_version or entry.current_version
        if not version:
            return _config_json(addon, "")
        metadata = alicloud.cs.get_kubernetes_addon_metadata_output(
            cluster_id=self._cluster_id,
            name=addon.name,
            version=version,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return metadata.config_schema.apply(lambda schema: _config_json(addon, schema))


def _offered_entry(addon: AddonSpec, entries: Sequence[Any] | None) -> Any:
    entries = entries or []
    for entry in entries:
        if entry.name == addon.name:
            return entry
    raise AddonPreflightError(not_offered_message(addon, [e.name for e in entries]))


def _config_json(addon: AddonSpec, schema_text: str) -> str:
    problems = config_schema_problems(addon, schema_text)
    if problems:
        raise AddonPreflightError(
            "The add-on configuration does not match the schema the cluster publishes:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return go_json(addon.config)


def _go_numbers(value: object) -> object:
    """Go decodes every JSON number as float64 and writes an integral one without a fraction (`1.0` -> `1`)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    return value


# Go's encoding/json escapes these inside strings (HTMLEscape and the JavaScript line separators).
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: object) -> str:
    """`value` as Go's `json.Marshal` writes it: compact, keys sorted, non-ASCII kept, `<>&` escaped.

    The provider stores `KubernetesAddon.config` as `json.Marshal` of what it reads back
    (terraform-provider-alicloud `resource_alicloud_cs_kubernetes_addon.go`, Read), and `config` has no diff
    suppression: any other spelling of the same JSON shows as a change on every preview.
    """
    text = json.dumps(_go_numbers(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for character, escaped in _GO_ESCAPES.items():
        text = text.replace(character, escaped)
    return text
