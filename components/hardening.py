"""The security settings every workload pod of the stack runs with (model servers, endpoint pickers, benchmark).

The runtime's default seccomp profile, no privilege escalation and no Linux capabilities: vLLM, the simulator,
the picker and `vllm bench serve` need none (GPUs come through the device plugin, not capabilities). Images
keep their own user, since the vLLM image runs as root and writes its caches under its home directory; the
endpoint picker adds its image's non-root user and a read-only root filesystem (`endpoint_picker.py`).
"""

from __future__ import annotations

from typing import Any

POD_SECURITY_CONTEXT = {"seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY_CONTEXT = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def pod_fields(image_pull_secret: str | None) -> dict[str, Any]:
    """Pod-spec keys: the security context and, for a private registry, the pull secret."""
    fields: dict[str, Any] = {"securityContext": POD_SECURITY_CONTEXT}
    if image_pull_secret is not None:
        fields["imagePullSecrets"] = [{"name": image_pull_secret}]
    return fields
