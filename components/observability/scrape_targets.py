"""What a Prometheus Operator scrapes: a PodMonitor per model server and a ServiceMonitor per self-hosted endpoint
picker.

The Operator ignores `prometheus.io/*` annotations; its Prometheus scrapes what PodMonitors and ServiceMonitors
its `podMonitorSelector` / `serviceMonitorSelector` match (hence the configurable `labels`). A PodMonitor's
targets carry `namespace`, `pod`, `container` and `endpoint` labels (the Operator's relabelling), the same
`namespace` and `pod` the dashboard and the alert rules read. The picker's metrics endpoint authenticates every
scrape (a bearer token allowed `get` on `/metrics`), so its ServiceMonitor presents the token upstream's
inferencepool chart uses (epp-servicemonitor.yaml): the picker service account's, from a Secret in the
picker's namespace (a ServiceMonitor may only reference Secrets in its own namespace).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pydantic import BaseModel, ConfigDict

from components import kube

API_VERSION = "monitoring.coreos.com/v1"
TOKEN_KEY = "token"


class ScrapedPods(BaseModel):
    """A model server's pods: selected by their labels, scraped at the named container port and path."""

    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    pod_labels: dict[str, str]
    port_name: str
    path: str


class ScrapedService(BaseModel):
    """An endpoint picker's Service: its metrics port name and path, and the Secret with the scraper's token."""

    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    service_labels: dict[str, str]
    port_name: str
    path: str
    token_secret: str


def pod_monitor(pods: ScrapedPods, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": kube.metadata(pods.name, pods.namespace, labels=labels),
        "spec": {
            "selector": {"matchLabels": dict(pods.pod_labels)},
            "namespaceSelector": {"matchNames": [pods.namespace]},
            "podMetricsEndpoints": [{"port": pods.port_name, "path": pods.path}],
        },
    }


def service_monitor(service: ScrapedService, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": kube.metadata(service.name, service.namespace, labels=labels),
        "spec": {
            "selector": {"matchLabels": dict(service.service_labels)},
            "namespaceSelector": {"matchNames": [service.namespace]},
            "endpoints": [
                {
                    "port": service.port_name,
                    "path": service.path,
                    "authorization": {
                        "type": "Bearer",
                        "credentials": {"name": service.token_secret, "key": TOKEN_KEY},
                    },
                }
            ],
        },
    }


@dataclass(frozen=True)
class ScrapeTargetsArgs:
    pods: list[ScrapedPods]
    services: list[ScrapedService]
    # Labels the Operator's selectors match.
    labels: dict[str, str]
    # What serves the monitoring.coreos.com CRDs, and what creates the namespaces and the token Secrets.
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class ScrapeTargets(pulumi.ComponentResource):
    # The monitors as `<Kind> <namespace>/<name>`.
    monitors: list[str]

    def __init__(self, name: str, args: ScrapeTargetsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:observability:ScrapeTargets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        bodies = [pod_monitor(pods, args.labels) for pods in args.pods]
        bodies += [service_monitor(service, args.labels) for service in args.services]
        for body in bodies:
            meta = body["metadata"]
            kube.create(f"{name}-{body['kind'].lower()}-{meta['name']}", body, child)
        self.monitors = [f"{b['kind']} {b['metadata']['namespace']}/{b['metadata']['name']}" for b in bodies]
        self.register_outputs({"monitors": self.monitors})
