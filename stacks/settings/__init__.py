"""The typed configuration of one stack (`StackSettings`, in `stacks.settings.stack`) and its cross-field checks.

Each area owns its models and its checks in its own module of this package; `stack` assembles them.
"""

from stacks.settings.stack import StackSettings, settings_problems

__all__ = ["StackSettings", "settings_problems"]
