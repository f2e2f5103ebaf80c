"""Version skew guardrails: what each ACK Gateway with Inference Extension add-on version accepts, in one place.

Skew between the gateway add-on, the Inference Extension API version and the vLLM image is the most reported
breakage in this field, so the stack refuses a skewed configuration at plan time. Every row carries its source,
which the error message shows. Rows marked "inferred" follow from the sources without one stating them
(Alibaba's add-on changelog and docs, the upstream gateway-api-inference-extension (GIE) repository, vLLM's
code); they are data, so a correction is a one-line change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stacks.errors import ConfigProblem
from stacks.settings.addons import manages_addons

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

# Add-on versions look like `v1.4.0-apsara.4`. Within one base version every `aliyun.N` build precedes the
# `apsara.N` builds (inferred from the changelog dates: v1.4.0-aliyun.1 2025-05-27, v1.4.0-apsara.3 2025-09-04).
_ADDON_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-(aliyun|apsara)\.(\d+))?$")
_CHANNEL_RANK = {None: 0, "aliyun": 1, "apsara": 2}
_VLLM_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:\.post\d+)?$")
ADDON_VERSION_FORMAT = "`v<major>.<minor>.<patch>[-aliyun.<n>|-apsara.<n>]`, e.g. `v1.4.0-apsara.4`"
VLLM_VERSION_FORMAT = "`<major>.<minor>.<patch>[.post<n>]`, e.g. `0.8.5.post1`"
ADDON_VERSION_KEY = ("addons", "inferenceGateway", "version")


@dataclass(frozen=True, order=True)
class AddonVersion:
    key: tuple[int, ...]
    text: str = field(compare=False)

    @classmethod
    def parse(cls, text: str) -> AddonVersion | None:
        match = _ADDON_VERSION.match(text)
        if match is None:
            return None
        major, minor, patch, channel, build = match.groups()
        return cls((int(major), int(minor), int(patch), _CHANNEL_RANK[channel], int(build or 0)), text)


def addon_version(text: str) -> AddonVersion:
    version = AddonVersion.parse(text)
    if version is None:
        raise ValueError(f"not an add-on version: {text}")
    return version


def vllm_version(text: str) -> tuple[int, int, int] | None:
    match = _VLLM_VERSION.match(text)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


# With `addons.inferenceGateway.version` unset the cloud layer installs the newest version ACK offers; the
# checks then assume the first version that serves everything the default stack uses (the v1 API).
ASSUMED_ADDON_VERSION = addon_version("v1.4.0-apsara.4")


@dataclass(frozen=True)
class AddonRange:
    """Add-on versions from `since` (inclusive) until `until` (exclusive); None leaves that end open."""

    since: AddonVersion | None
    until: AddonVersion | None
    source: str

    def contains(self, version: AddonVersion) -> bool:
        return (self.since is None or self.since <= version) and (self.until is None or version < self.until)

    def describe(self) -> str:
        if self.since and self.until:
            return f"{self.since.text} or newer, older than {self.until.text}"
        if self.since:
            return f"{self.since.text} or newer"
        return f"older than {self.until.text}" if self.until else "of any version"


# Which Inference Extension API version each add-on serves.
API_VERSIONS_SERVED: dict[str, AddonRange] = {
    "v1alpha1": AddonRange(
        None,
        addon_version("v1.3.0-aliyun.2"),
        "inferred: upstream served v1alpha1 only in GIE v0.1.0, and ACK's docs use v1alpha2 from v1.3.0-aliyun.2 on",
    ),
    "v1alpha2": AddonRange(
        addon_version("v1.3.0-aliyun.2"),
        None,
        "inferred: ACK's docs use inference.networking.x-k8s.io/v1alpha2 from v1.3.0-aliyun.2 on",
    ),
    "v1": AddonRange(
        addon_version("v1.4.0-apsara.4"),
        None,
        "ACK changelog: v1.4.0-apsara.4 (2025-12-16) adds the InferencePool v1 CRD",
    ),
}
# An HTTPRoute whose backendRef is an InferencePool.
POOL_BACKEND_REF = AddonRange(
    addon_version("v1.3.0-aliyun.2"),
    None,
    "ACK changelog: v1.3.0-aliyun.2 (2025-05-07) lets an HTTPRoute reference an InferencePool",
)
# Routing several served model names by the `X-Gateway-Model-Name` header the gateway sets from the body.
MODEL_NAME_HEADER = AddonRange(
    addon_version("v1.4.0"), None, "ACK docs: routing by model name needs the add-on 1.4.0 or newer"
)


@dataclass(frozen=True)
class VllmSupport:
    """The vLLM versions (`minimum` inclusive, `below` exclusive) the endpoint picker of some add-ons works with."""

    addons: AddonRange
    minimum: tuple[int, int, int]
    below: tuple[int, int, int] | None

    def accepts(self, version: tuple[int, int, int]) -> bool:
        return self.minimum <= version and (self.below is None or version < self.below)

    def describe(self) -> str:
        if self.below is None:
            return f"{_dotted(self.minimum)} or newer"
        return f"{_dotted(self.minimum)} or newer, older than {_dotted(self.below)}"


_VLLM_FLOOR = "ACK docs: vLLM V0 0.6.4+ and V1 0.8.0+"
VLLM_SUPPORT: list[VllmSupport] = [
    VllmSupport(
        AddonRange(
            None,
            addon_version("v1.6.1"),
            f"{_VLLM_FLOOR}; inferred: these add-ons' endpoint pickers read vllm:gpu_cache_usage_perc (GIE's "
            "default up to v1.0.2, the conformance level of v1.4.0-apsara.4), which vLLM hides from 0.11.0",
        ),
        (0, 6, 4),
        (0, 11, 0),
    ),
    VllmSupport(
        AddonRange(
            addon_version("v1.6.1"),
            None,
            f"{_VLLM_FLOOR}; inferred: v1.6.1-apsara.3 passes GIE v1.5.0 conformance, whose manifests run vLLM 0.18.1",
        ),
        (0, 6, 4),
        None,
    ),
]
# A self-hosted endpoint picker (GIE v1.x image) supports vLLM V1 from 0.8.0 and is told which KV-cache metric
# to read (see `kv_cache_metric`).
SELF_HOSTED_PICKER_VLLM_MINIMUM = (0, 8, 0)
SELF_HOSTED_PICKER_SOURCE = "GIE v1.0.2 docs: vLLM V1 0.8.0 and above"

# `vllm bench serve` ships in the vLLM image from this version (inferred: vLLM PR #13993 added it in March 2025
# and PR #16508 (April 2025) tests it; 0.8.5 is the first release after both).
BENCH_SERVE_MINIMUM = (0, 8, 5)


# The Gateway's load balancer (intranet address, allow-list, Service type) lives on the EnvoyProxy that
# `Gateway.spec.infrastructure.parametersRef` names. That field reached the standard channel in Gateway API v1.2.0
# (kubernetes-sigs/gateway-api PR #3272, CHANGELOG/1.2-CHANGELOG.md: GEP-1867 "graduated to Standard"); the
# v1.2.1 standard CRD vendored in schemas/crds/gateway-api-v1.2.1 serves it. The API server prunes fields a CRD
# does not declare, so on older CRDs the Gateway silently loses it and Envoy Gateway gives the Service ACK's
# default: an internet load balancer without the allow-list.
GATEWAY_INFRASTRUCTURE_MINIMUM = (1, 2, 0)
GATEWAY_INFRASTRUCTURE_SOURCE = (
    "Gateway API v1.2.0 moved Gateway.spec.infrastructure to the standard channel, kubernetes-sigs/gateway-api #3272"
)
GATEWAY_API_KEY = ("addons", "gatewayApi", "version")
# ACK names the Gateway API add-on's versions after the release whose CRDs it installs (inferred; unverified),
# possibly with a build suffix: the first three numbers are read.
_GATEWAY_API_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+.][0-9A-Za-z.-]+)?$")


def gateway_api_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    """The Gateway always takes its exposure from `spec.infrastructure`: the CRDs must serve it (fail closed)."""
    configured = settings.addons.gateway_api.version
    if configured is None:
        if manages_addons(settings):
            return  # the stack installs the newest Gateway API add-on ACK offers, which serves it
        yield ConfigProblem(
            GATEWAY_API_KEY,
            "must be the Gateway API version installed in the cluster (the `gateway.networking.k8s.io/"
            "bundle-version` annotation of `crd/gateways.gateway.networking.k8s.io`), because the stack does not "
            "install it: the gateway's intranet address and allow-list live on `Gateway.spec.infrastructure`, "
            f"which CRDs older than v{_dotted(GATEWAY_INFRASTRUCTURE_MINIMUM)} drop silently, leaving an "
            f"internet load balancer ({GATEWAY_INFRASTRUCTURE_SOURCE})",
        )
        return
    match = _GATEWAY_API_VERSION.match(configured)
    if match is None:
        yield ConfigProblem(GATEWAY_API_KEY, "is not a Gateway API version; expected `v<major>.<minor>.<patch>`")
        return
    if (int(match[1]), int(match[2]), int(match[3])) < GATEWAY_INFRASTRUCTURE_MINIMUM:
        yield ConfigProblem(
            GATEWAY_API_KEY,
            f"must be v{_dotted(GATEWAY_INFRASTRUCTURE_MINIMUM)} or newer: the gateway's intranet address and "
            "allow-list live on `Gateway.spec.infrastructure`, which older CRDs drop silently, leaving an internet "
            f"load balancer ({GATEWAY_INFRASTRUCTURE_SOURCE})",
        )


def vllm_support(addon: AddonVersion) -> VllmSupport:
    return next(row for row in VLLM_SUPPORT if row.addons.contains(addon))


def lora_forces_v0_engine(version: tuple[int, int, int]) -> bool:
    """vLLM 0.8.0-0.8.2 silently fall back to the V0 engine with `--enable-lora` unless VLLM_USE_V1=1."""
    return (0, 8, 0) <= version < (0, 8, 3)


def kv_cache_metric(version: tuple[int, int, int]) -> str | None:
    """The KV-cache metric a self-hosted picker must be told to read, when it is not the picker's default.

    The picker reads `vllm:gpu_cache_usage_perc` by default; vLLM hides it from 0.11.0 (removed in 0.12.0) and
    exports `vllm:kv_cache_usage_perc` since 0.9.2.
    """
    return "vllm:kv_cache_usage_perc" if version >= (0, 11, 0) else None


def problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    """Every skew between the add-on version, the routing config and the model servers' vLLM versions, and
    Gateway API CRDs too old for the gateway's exposure settings."""
    yield from gateway_api_problems(settings)
    configured = settings.addons.inference_gateway.version
    addon = AddonVersion.parse(configured) if configured else ASSUMED_ADDON_VERSION
    if addon is None:
        yield ConfigProblem(ADDON_VERSION_KEY, f"is not an add-on version; expected {ADDON_VERSION_FORMAT}")
        return
    running = f"gateway add-on {addon.text}" + ("" if configured else " (assumed: it is unset)")

    def needs(loc: tuple[str | int, ...], what: str, versions: AddonRange) -> Iterator[ConfigProblem]:
        if not versions.contains(addon):
            yield ConfigProblem(
                loc,
                f"{what} needs gateway add-on {versions.describe()} but `addons.inferenceGateway.version` is "
                f"{running.removeprefix('gateway add-on ')}; pin a version that has it ({versions.source})",
            )

    routing = settings.routing
    # Each model's pool API, checked where it is configured: the stack-wide key once, each override on its own.
    api_locs: dict[tuple[str | int, ...], str] = {}
    for index, model in enumerate(settings.models):
        loc = ("models", index, "apiVersion") if model.api_version else ("routing", "apiVersion")
        api_locs[loc] = routing.api_of(model)
    for loc, api in api_locs.items():
        yield from needs(loc, f"`{api}`", API_VERSIONS_SERVED[api])
    if routing.attachment_mode == "backendRef":
        yield from needs(("routing", "attachment"), "an HTTPRoute backendRef to an InferencePool", POOL_BACKEND_REF)
    if len({model.served_name for model in settings.models}) > 1:  # several routing groups
        yield from needs(("models",), "routing several served model names by header", MODEL_NAME_HEADER)
    self_hosted = routing.endpoint_picker.mode == "selfHosted"
    for index, model in enumerate(settings.models):
        version = vllm_version(model.vllm_version)
        if model.mode != "vllm" or version is None:
            continue
        loc = ("models", index, "vllmVersion")
        if self_hosted:
            if version < SELF_HOSTED_PICKER_VLLM_MINIMUM:
                yield ConfigProblem(
                    loc,
                    f"the self-hosted endpoint picker needs vLLM {_dotted(SELF_HOSTED_PICKER_VLLM_MINIMUM)} or "
                    f"newer ({SELF_HOSTED_PICKER_SOURCE})",
                )
            continue
        support = vllm_support(addon)
        if not support.accepts(version):
            yield ConfigProblem(
                loc,
                f"vLLM {model.vllm_version} is outside what {running} supports: {support.describe()} "
                f"({support.addons.source})",
            )


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))
