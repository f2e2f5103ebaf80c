"""The layers the program composes, and what each hands to the next.

cloud (network, cluster, node pools, add-ons, Kubernetes provider) -> inference (model servers, gateway,
routing) -> observability (dashboard, alert rules). Each layer is built by a function in its own module
from the typed settings and the previous layers' results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.placement import Placement


@dataclass(frozen=True)
class CloudLayer:
    # The explicit Kubernetes provider every Kubernetes object must use.
    provider: k8s.Provider
    # Placement of the GPU model servers (GPU node pool, or ACS GPU labels).
    gpu_placement: Placement
    # Placement of CPU workloads (gateway-adjacent pods, endpoint picker, benchmark job).
    system_placement: Placement
    # What installs the Gateway API / Inference Extension CRDs (the gateway add-ons); custom resources wait for it.
    crd_installers: list[pulumi.Resource] = field(default_factory=list)
    # What workloads need before they can schedule (node pools, virtual node add-on).
    capacity: list[pulumi.Resource] = field(default_factory=list)
    # What installs the monitoring.coreos.com CRDs when the cluster layer provides it (ARMS add-on), if anything.
    monitoring_installers: list[pulumi.Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelServerRef:
    """What other layers need to know about one deployed model server."""

    name: str
    namespace: str
    pod_labels: dict[str, str]
    port: int
    # How long a new pod may take to serve (image pull plus model load): availability alerts wait this long.
    startup_budget_seconds: int
    resources: list[pulumi.Resource] = field(default_factory=list)


@dataclass(frozen=True)
class EndpointPickerRef:
    """A self-hosted endpoint picker whose metrics a Prometheus Operator scrapes."""

    name: str
    namespace: str
    # The labels of its Service (which serves the metrics port) and the Secret holding the scraper's token.
    service_labels: dict[str, str]
    token_secret: str
    resources: list[pulumi.Resource] = field(default_factory=list)


@dataclass(frozen=True)
class InferenceLayer:
    namespace: str
    model_servers: list[ModelServerRef]
    # The Gateway's name and namespace (for observability side-by-side panels and policies).
    gateway_name: str
    # Self-hosted pickers whose metrics are scraped (none when the gateway add-on runs the pickers).
    endpoint_pickers: list[EndpointPickerRef] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObservabilityLayer:
    outputs: dict[str, Any] = field(default_factory=dict)
