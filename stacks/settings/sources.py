"""Where a model server's weights come from (`models[].source`): baked into the image, Hugging Face, ModelScope
or OSS, and which of those a node reaches from its region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field

from components.constants import OSS_MOUNT_PATH
from components.vocabulary import WeightsSource
from stacks.errors import ConfigProblem
from stacks.settings.base import ConfigModel
from stacks.settings.formats import DNS_LABEL

if TYPE_CHECKING:
    from stacks.settings.stack import StackSettings

# Which source keys each source type reads (and requires); the others must stay unset.
SOURCE_KEYS: dict[str, set[str]] = {
    "baked": {"path"},
    "huggingFace": {"repo", "revision", "cache_size_gib", "cache_storage_class"},
    "modelScope": {"repo", "revision", "cache_size_gib", "cache_storage_class"},
    "oss": {"bucket", "endpoint", "path", "ram_role", "credentials_secret", "mount_options", "capacity_gib"},
}
REQUIRED_SOURCE_KEYS: dict[str, set[str]] = {
    "huggingFace": {"repo"},
    "modelScope": {"repo"},
    "oss": {"bucket", "endpoint"},
}
# Sources downloaded from the internet at start-up (they need outbound internet: the NAT gateway).
DOWNLOADED_SOURCES = ("huggingFace", "modelScope")
# Hugging Face organisations whose repositories are gated: a download without an accepted licence and a token
# fails with 401/403 ("Cannot access gated repo"), e.g. meta-llama/Llama-2-7b-hf
# (https://huggingface.co/meta-llama/Llama-2-7b-hf asks to accept Meta's licence; hiyouga/LlamaFactory#3403).
GATED_HF_ORGS = ("meta-llama",)
# Regions of the Chinese mainland: `cn-*` except Hong Kong. From there Docker Hub and the Hugging Face Hub are
# often slow or unreachable; ACK's LLM guides copy images to ACR and take weights from ModelScope or OSS.
OFFSHORE_CN_REGIONS = ("cn-hongkong",)


def in_mainland_china(region: str | None) -> bool:
    return region is not None and region.startswith("cn-") and region not in OFFSHORE_CN_REGIONS


def gated(source: SourceSettings) -> bool:
    return source.type == "huggingFace" and (source.repo or "").partition("/")[0] in GATED_HF_ORGS


DEFAULT_SOURCE_PATHS = {"baked": "/model/llama2", "oss": "/"}
LLAMA_2_7B_REPO = "meta-llama/Llama-2-7b-hf"
# The same weights on ModelScope, downloaded without a token (LLaMA-Factory's model table maps
# meta-llama/Llama-2-7b-hf to it; not verified live, so `source.repo` overrides it).
MODELSCOPE_LLAMA_2_7B_REPO = "modelscope/Llama-2-7b-ms"


class SourceSettings(ConfigModel):
    type: WeightsSource = Field(
        "baked",
        description="`baked`: weights inside the image (the tutorial's way). `huggingFace`: downloaded from the "
        "Hugging Face Hub at start-up. `modelScope`: downloaded from ModelScope at start-up (vLLM's "
        "`VLLM_USE_MODELSCOPE=true`; reachable from the Chinese mainland). `oss`: an OSS bucket mounted "
        f"read-only at `{OSS_MOUNT_PATH}` through the OSS CSI driver (ossfs), the Alibaba-native way for large models.",
    )
    path: str | None = Field(
        None,
        pattern=r"^/\S*$",
        description="`baked`: directory of the weights in the image (default `/model/llama2`). `oss`: directory "
        "of the weights in the bucket (default `/`).",
    )
    repo: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*/[-A-Za-z0-9_.]+$",
        description="`huggingFace`/`modelScope`: model repository, e.g. `meta-llama/Llama-2-7b-hf` (Hugging Face; "
        "gated repositories need the root `hfToken`) or `modelscope/Llama-2-7b-ms` (ModelScope).",
    )
    revision: str | None = Field(
        None,
        pattern=r"^[-A-Za-z0-9_./]+$",
        description="`huggingFace`/`modelScope`: branch, tag or commit to pin (recommended: a commit).",
    )
    cache_size_gib: int = Field(
        50,
        ge=1,
        le=4096,
        description="`huggingFace`/`modelScope`: size of the download cache (the weights plus headroom), GiB.",
    )
    cache_storage_class: str | None = Field(
        None,
        pattern=DNS_LABEL,
        description="`huggingFace`/`modelScope`: StorageClass of a shared ReadWriteMany cache volume (e.g. a NAS "
        "class), so a restarted or added pod does not download again. Unset: a per-pod emptyDir.",
    )
    bucket: str | None = Field(None, pattern=r"^[a-z0-9][-a-z0-9]{1,61}[a-z0-9]$", description="`oss`: bucket name.")
    endpoint: str | None = Field(
        None,
        pattern=r"^[-a-z0-9.]+\.aliyuncs\.com$",
        description="`oss`: endpoint, e.g. `oss-cn-hangzhou-internal.aliyuncs.com` (the internal one in-region).",
    )
    ram_role: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,63}$",
        description="`oss`: RAM role the CSI driver assumes through RRSA (recommended; needs `cluster.rrsa`).",
    )
    credentials_secret: str | None = Field(
        None,
        pattern=DNS_LABEL,
        description="`oss`: existing Secret (keys `akId`, `akSecret`) in the gateway namespace, instead of `ramRole`.",
    )
    mount_options: str = Field(
        "-o umask=022 -o max_stat_cache_size=100000 -o allow_other", description="`oss`: ossfs options (`otherOpts`)."
    )
    capacity_gib: int = Field(100, ge=1, le=65536, description="`oss`: capacity stated on the PersistentVolume, GiB.")

    @property
    def weights_path(self) -> str:
        return self.path or DEFAULT_SOURCE_PATHS.get(self.type, "/")


def source_problems(index: int, source: SourceSettings) -> Iterator[ConfigProblem]:
    loc = ("models", index, "source")
    fields = SourceSettings.model_fields
    for name in sorted(source.model_fields_set - {"type"} - SOURCE_KEYS[source.type]):
        yield ConfigProblem((*loc, fields[name].alias), f"is not used with `source.type: {source.type}`")
    for name in sorted(REQUIRED_SOURCE_KEYS.get(source.type, set())):
        if getattr(source, name) is None:
            yield ConfigProblem((*loc, fields[name].alias), f"is required with `source.type: {source.type}`")
    if source.type == "oss" and (source.ram_role is None) == (source.credentials_secret is None):
        yield ConfigProblem((*loc, "ramRole"), "set exactly one of `ramRole` (RRSA) or `credentialsSecret`")


def default_source(region: str | None) -> SourceSettings:
    """Llama 2 7B from where the region reaches it; an unknown region takes the mainland-China default."""
    if region is None or in_mainland_china(region):
        return SourceSettings(type="modelScope", repo=MODELSCOPE_LLAMA_2_7B_REPO)
    return SourceSettings(type="huggingFace", repo=LLAMA_2_7B_REPO)


def token_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    for index, model in enumerate(settings.models):
        if model.mode == "vllm" and gated(model.source) and settings.hf_token is None:
            # The Hub answers 401/403 "Cannot access gated repo" without a token of an account that accepted the
            # licence: the pod never gets ready.
            yield ConfigProblem(
                ("hfToken",),
                f"is required: `models[{index}].source.repo` is a gated Hugging Face repository; set a token of "
                "an account that accepted its licence (`pulumi config set --secret hfToken <token>`), or use "
                "`source.type: modelScope`",
            )
