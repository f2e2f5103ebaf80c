"""The per-region catalogue the mocks serve for the alicloud data sources (`catalogue.json`, with sources)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

_PATH = Path(__file__).with_name("catalogue.json")


@functools.cache
def data() -> dict[str, Any]:
    return json.loads(_PATH.read_text(encoding="utf-8"))


def kubernetes_versions() -> list[str]:
    return list(data()["kubernetesVersions"]["versions"])


def cluster_version(configured: str | None) -> str:
    """The version ACK creates: the newest offered one matching what is configured (all of it, or its prefix)."""
    for version in kubernetes_versions():
        if not configured or version == configured or version.startswith(f"{configured}."):
            return version
    return configured or kubernetes_versions()[0]


def region(name: str) -> dict[str, Any] | None:
    return data()["regions"].get(name)


def instance_types() -> dict[str, dict[str, Any]]:
    return data()["instanceTypes"]["types"]
