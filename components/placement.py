"""Where a pod runs: the one value the cluster layer hands to the workloads.

The GPU node-pool mode and the ACS serverless-GPU mode differ only in this value, so model servers never
branch on the compute mode themselves.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Placement(BaseModel):
    model_config = ConfigDict(frozen=True)

    node_selector: dict[str, str] = Field(default_factory=dict)
    # Kubernetes toleration objects with API (camelCase) keys, e.g. {"key", "operator", "value", "effect"}.
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    # Labels that steer scheduling (ACS compute class and GPU series); merged into the pod template labels.
    pod_labels: dict[str, str] = Field(default_factory=dict)

    def pod_spec_fields(self) -> dict[str, Any]:
        """The pod-spec keys this placement sets (nodeSelector, tolerations), omitted when empty."""
        fields: dict[str, Any] = {}
        if self.node_selector:
            fields["nodeSelector"] = dict(self.node_selector)
        if self.tolerations:
            fields["tolerations"] = [dict(t) for t in self.tolerations]
        return fields
