"""The typed configuration of one stack (`StackSettings`, in `stacks.settings.stack`) and its cross-field checks.

Each area owns its models and its checks in its own module of this package; `stack` assembles them.
"""

from stacks.settings.stack import StackSettings, in_region, settings_problems, settings_warnings

__all__ = ["StackSettings", "in_region", "settings_problems", "settings_warnings"]
