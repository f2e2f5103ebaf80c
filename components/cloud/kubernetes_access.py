"""The explicit Kubernetes provider every Kubernetes object uses, from an ACK credential or a given kubeconfig."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class KubernetesAccessArgs:
    # Replacing the provider replaces every object it manages, so it is keyed by the cluster's identity and
    # never by the kubeconfig text, which changes whenever ACK issues a new credential.
    cluster_identifier: pulumi.Input[str]
    # Either an ACK cluster id (the kubeconfig is fetched from ACK) or a kubeconfig (any cluster).
    ack_cluster_id: pulumi.Input[str] | None = None
    kubeconfig: pulumi.Input[str] | None = None
    # Lifetime of a fetched ACK credential; None: ACK's long-lived one.
    credential_ttl_minutes: int | None = None
    # ACK resources that must be ready before anything talks to the cluster (node pools, add-ons). Kubernetes
    # objects then wait for them through the provider, and are deleted before them.
    ready: list[pulumi.Resource] = field(default_factory=list)

    def __post_init__(self) -> None:
        if (self.ack_cluster_id is None) == (self.kubeconfig is None):
            raise ValueError("give either an ACK cluster id or a kubeconfig")


class KubernetesAccess(pulumi.ComponentResource):
    # The explicit provider every Kubernetes object uses.
    provider: k8s.Provider
    # Always a secret.
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:cloud:KubernetesAccess", name, None, opts)
        if args.ack_cluster_id is not None:
            credential = alicloud.cs.get_cluster_credential_output(
                cluster_id=args.ack_cluster_id,
                temporary_duration_minutes=args.credential_ttl_minutes,
                opts=pulumi.InvokeOutputOptions(parent=self, depends_on=args.ready),
            )
            kubeconfig = credential.kube_config
        else:
            kubeconfig = pulumi.Output.from_input(args.kubeconfig)
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            cluster_identifier=args.cluster_identifier,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "provider": self.provider})
