"""The root of a stack's typed configuration: one field per key of the ``ack-inference`` config namespace.

Each area owns its models and its cross-field checks in its own modules (cloud: `network`, `cluster`,
`compute`, `addons`; inference: `sources`, `models`, `routing`; `observability`, `security`, `cost`); this
module only assembles them. Secret keys are typed ``SecretStr`` and must be stored encrypted.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, PrivateAttr, SecretStr

from components.vocabulary import Tier
from stacks.errors import ConfigProblem
from stacks.settings import cloud as cloud_area
from stacks.settings import cost as cost_area
from stacks.settings import inference as inference_area
from stacks.settings import observability as observability_area
from stacks.settings import security as security_area
from stacks.settings.addons import AddonsSettings
from stacks.settings.base import ConfigModel
from stacks.settings.cluster import ClusterSettings
from stacks.settings.compute import ComputeSettings, NodePoolsSettings
from stacks.settings.models import MAX_MODELS, ModelSettings, default_models, default_source
from stacks.settings.network import NetworkSettings
from stacks.settings.routing import BenchmarkSettings, GatewaySettings, RoutingSettings


class StackSettings(ConfigModel):
    tier: Tier = Field(
        "development",
        description="`production` turns on every protection (Pulumi protect, cloud deletion protection, "
        "replica and disruption floors).",
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="Tags added to every Alibaba Cloud resource (merged over the defaults)."
    )
    network: NetworkSettings = Field(
        default_factory=NetworkSettings,
        description="VPC and vSwitches (new or existing), outbound internet.",
    )
    cluster: ClusterSettings = Field(
        default_factory=ClusterSettings,
        description="The ACK cluster: a new managed cluster, an existing cluster id, or a kubeconfig.",
    )
    node_pools: NodePoolsSettings = Field(
        default_factory=NodePoolsSettings, description="The CPU system pool and the GPU pool."
    )
    compute: ComputeSettings = Field(
        default_factory=ComputeSettings,
        description="Where model servers run: the GPU node pool or ACS serverless GPU.",
    )
    addons: AddonsSettings = Field(
        default_factory=AddonsSettings, description="ACK add-ons: names, versions and config."
    )
    kubeconfig: SecretStr | None = Field(
        None, description="Kubeconfig of an existing cluster (`cluster.mode: kubeconfig`). Secret."
    )
    models: list[ModelSettings] = Field(
        default_factory=default_models,
        min_length=1,
        max_length=MAX_MODELS,
        description="Model servers, one InferencePool each. The default is the tutorial's Llama 2 7B server.",
    )
    gateway: GatewaySettings = Field(
        default_factory=GatewaySettings,
        description="GatewayClass, Gateway listeners and the plain HTTP route.",
    )
    routing: RoutingSettings = Field(
        default_factory=RoutingSettings,
        description="Inference-aware routing: API version, attachment, endpoint picker.",
    )
    benchmark: BenchmarkSettings = Field(
        default_factory=BenchmarkSettings,
        description="The optional benchmark Job comparing the 8080 and 8081 paths.",
    )
    hf_token: SecretStr | None = Field(
        None, description="Hugging Face token for models with `source.type: huggingFace`. Secret."
    )
    alert_webhook_url: SecretStr | None = Field(
        None,
        description="Where the self-managed Alertmanager sends every alert: an Alertmanager webhook receiver URL "
        "(for DingTalk, the URL of a prometheus-webhook-dingtalk bridge, e.g. `http://<bridge>:8060/dingtalk/"
        "<profile>/send`). Without it alerts reach no one. Secret.",
    )
    observability: observability_area.ObservabilitySettings = Field(
        default_factory=observability_area.ObservabilitySettings,
        description="Dashboard, alert rules, optional self-managed Prometheus and Grafana.",
    )
    security: security_area.SecuritySettings = Field(
        default_factory=security_area.SecuritySettings,
        description="Gateway exposure, authentication, rate limit, HTTPS, network isolation, image pulls.",
    )
    api_keys: security_area.ApiKeys | None = Field(
        None,
        min_length=1,
        description="API keys by client name (JSON object); when set, every request to the gateway must carry "
        "one in `security.apiKeyHeader`. Secret.",
    )
    prices: cost_area.PriceTable = Field(
        default_factory=cost_area.PriceTable,
        description="Hourly prices for the offline plan's indicative monthly cost (your own or contracted prices).",
    )

    # `alicloud:region` (the provider's key, not ours): decides the default weights source and what is reachable.
    _region: str | None = PrivateAttr(None)

    @property
    def production(self) -> bool:
        return self.tier == "production"

    @property
    def region(self) -> str | None:
        return self._region


def in_region(settings: StackSettings, region: str | None) -> StackSettings:
    """The settings for a region: model servers without a `source` take the region's default weights source."""
    models = [
        model if "source" in model.model_fields_set else model.model_copy(update={"source": default_source(region)})
        for model in settings.models
    ]
    regional = settings.model_copy(update={"models": models})
    regional._region = region
    return regional


def settings_problems(settings: StackSettings) -> Iterator[ConfigProblem]:
    """Cross-field checks that span keys; each area contributes its own."""
    yield from cloud_area.problems(settings)
    yield from inference_area.problems(settings)
    yield from observability_area.problems(settings)
    yield from security_area.problems(settings)


def settings_warnings(settings: StackSettings) -> Iterator[ConfigProblem]:
    """What plans but may not work (sources slow or unreachable from the region); shown at preview."""
    yield from inference_area.warnings(settings)
