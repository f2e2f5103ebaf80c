"""The config keys outside the project namespace that the program (and its providers) read, and the checks on
them: any other namespace or key in a stack file is a mistake Pulumi itself ignores silently.

`pulumi up` hands the program every key of the stack file (the language host's `PULUMI_CONFIG`), whatever its
namespace; a key in a namespace nothing reads (`ack-inferense:tier`) or a provider key that does not exist
(`alicloud:regoin`) would otherwise be dropped without a word.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from stacks.errors import PROJECT, ConfigProblem

# The Alibaba Cloud provider's region key (pulumi_alicloud/config/vars.py: `region`).
REGION_KEY = "alicloud:region"

if TYPE_CHECKING:
    from stacks.settings import StackSettings

# The alicloud provider's config keys: pulumi_alicloud 4.0.0 `config/vars.py` (`__config__.get('<key>')`).
# tests/test_stack_keys.py fails when the installed SDK reads another set.
ALICLOUD_KEYS = frozenset(
    {
        "accessKey", "accountId", "accountType", "assumeRole", "assumeRoleWithOidc", "clientConnectTimeout",
        "clientReadTimeout", "configurationSource", "credentialsUri", "ecsRoleName", "endpoints", "fc", "features",
        "logEndpoint", "maxRetryTimeout", "mnsEndpoint", "otsInstanceName", "profile", "protocol", "region",
        "secretKey", "secureTransport", "securityToken", "securityTransport", "sharedCredentialsFile",
        "signVersion", "skipRegionValidation", "sourceIp",
    }
)  # fmt: skip
# The kubernetes provider's config keys: pulumi_kubernetes 4.34.2 `provider.py` `ProviderArgs` (camelCase).
KUBERNETES_KEYS = frozenset(
    {
        "alwaysRender", "cluster", "clusterIdentifier", "context", "deleteUnreachable", "enableConfigMapMutable",
        "enablePatchForce", "enableSecretMutable", "enableServerSideApply", "helmReleaseSettings",
        "kubeClientSettings", "kubeconfig", "namespace", "renderYamlToDirectory", "skipUpdateUnreachable",
        "suppressDeprecationWarnings", "suppressHelmHookWarnings", "upsertExistingObjects",
    }
)  # fmt: skip
# The engine's own keys: `pulumi:disable-default-providers` (Pulumi docs, "Disabling default providers"), and
# `pulumi:tags`, the stack tags (Pulumi docs, "Stack tags").
PULUMI_KEYS = frozenset({"disable-default-providers", "tags"})
NAMESPACES: dict[str, frozenset[str] | None] = {
    PROJECT: None,  # checked by the settings models
    "alicloud": ALICLOUD_KEYS,
    "kubernetes": KUBERNETES_KEYS,
    "pulumi": PULUMI_KEYS,
}
# ECS zone ids are the region id and a letter: `cn-hangzhou-i`, `ap-southeast-1a` (Alibaba Cloud, "Regions and
# zones"; DescribeZones `ZoneId`).
_ZONE_OF_REGION = r"{region}-?[a-z]"


def namespace_problems(keys: Iterator[str] | list[str]) -> Iterator[ConfigProblem]:
    """Keys in a namespace the program does not read, or unknown to their provider, with the closest match."""
    for full_key in keys:
        namespace, _, key = full_key.partition(":")
        if namespace not in NAMESPACES:
            close = difflib.get_close_matches(namespace, list(NAMESPACES), n=1)
            hint = f" (did you mean `{close[0]}:{key}`?)" if close else ""
            yield ConfigProblem(
                (key,),
                f"is in namespace `{namespace}`, which nothing reads{hint}; namespaces: {', '.join(NAMESPACES)}",
                namespace=namespace,
            )
            continue
        allowed = NAMESPACES[namespace]
        if allowed is not None and key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean `{namespace}:{close[0]}`?)" if close else ""
            yield ConfigProblem((key,), f"is not a key of the {namespace} provider{hint}", namespace=namespace)


def region_problems(settings: StackSettings, others: Mapping[str, str]) -> Iterator[ConfigProblem]:
    """`alicloud:region` when the stack creates anything on Alibaba Cloud, and zones of that region."""
    from stacks.settings.cluster import cluster_mode

    mode = cluster_mode(settings)
    if mode == "kubeconfig":
        return
    region = others.get(REGION_KEY)
    if not region:
        # The provider would fall back to `ALICLOUD_REGION` or fail at `pulumi up`; a stack says where it lives.
        yield ConfigProblem(
            ("region",),
            f"is required: the stack creates resources on Alibaba Cloud (`cluster.mode: {mode}`); set it with "
            "`pulumi config set alicloud:region <region>`",
            namespace="alicloud",
        )
        return
    if mode != "new" or settings.network.vpc_id is not None:
        return
    for index, vswitch in enumerate(settings.network.vswitches):
        if not re.fullmatch(_ZONE_OF_REGION.format(region=re.escape(region)), vswitch.zone_id):
            yield ConfigProblem(
                ("network", "vswitches", index, "zoneId"),
                f"`{vswitch.zone_id}` is not a zone of `alicloud:region` `{region}` (zones are `{region}-<letter>`)",
            )
