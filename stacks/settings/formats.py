"""Text formats the settings validate against, and the helpers that read them."""

from __future__ import annotations

import re
from ipaddress import IPv4Network
from typing import Annotated

from pydantic import BeforeValidator, StringConstraints

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SERVICE_NAME = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
# Gateway API `Duration` (GEP-2257), the format of HTTPRoute timeouts.
DURATION = r"^([0-9]{1,5}(h|m|s|ms)){1,4}$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"
# An environment variable name: Kubernetes accepts any printable name without `=`, but a shell and the images'
# entrypoint scripts expect an identifier.
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]
_DURATION_UNITS = {"h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_QUANTITY_FACTORS = {
    "m": 0.001, "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}  # fmt: skip


def quantity_value(quantity: str) -> float:
    """A Kubernetes quantity matching `QUANTITY` as a number (bytes, for memory)."""
    number, suffix = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", quantity).groups()
    return float(number) * _QUANTITY_FACTORS[suffix]


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned, or None when it is (a tag other than `latest`, or a digest)."""
    if "@sha256:" in image:
        return None
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return "has no tag; pin a version tag or a digest (never `latest`)"
    if tag == "latest":
        return "uses `latest`; pin a version tag or a digest"
    return None


def pinned_image(image: str) -> str:
    """The image, for a field validator; a ValueError saying why when it is not pinned."""
    problem = image_problem(image)
    if problem:
        raise ValueError(problem)
    return image


def duration_ms(text: str) -> int:
    return sum(int(number) * _DURATION_UNITS[unit] for number, unit in re.findall(r"([0-9]+)(ms|h|m|s)", text))


def _cidr_text(value: object) -> object:
    # IPv4Network also accepts integers (and booleans), which are never what a stack file means by a CIDR.
    if isinstance(value, str | IPv4Network):
        return value
    raise ValueError("must be a CIDR in text form, such as `10.0.0.0/16`")


Cidr = Annotated[IPv4Network, BeforeValidator(_cidr_text)]


def camel(name: str) -> str:
    """The config key (camelCase) of a settings field (snake_case)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
