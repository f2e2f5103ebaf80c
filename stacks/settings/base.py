"""Base class shared by every configuration model."""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConfigModel(BaseModel):
    """A block of stack configuration.

    Keys are camelCase in the stack files (Pulumi's convention) and snake_case in Python. Unknown keys are
    errors so that a typo never silently falls back to a default.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )
