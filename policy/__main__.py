"""The ack-inference policy pack: `pulumi preview --policy-pack policy`.

Only this file constructs the PolicyPack, because constructing it starts the analyzer's gRPC server and blocks;
the rules live in `rules.py` so tests can import and call them.
"""

from pulumi_policy import PolicyPack
from rules import ENFORCEMENT_LEVEL, POLICIES

PolicyPack(name="ack-inference", policies=POLICIES, enforcement_level=ENFORCEMENT_LEVEL)
