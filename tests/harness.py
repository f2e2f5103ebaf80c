"""Run a whole stack under the shared provider mocks and query what it registered.

    plan = plan_stack("dev", overrides={"models": [...]})
    deployment = plan.one("kubernetes:apps/v1:Deployment", "vllm-llama2-7b-pool")
    assert plan.depends_on(deployment, plan.one("alicloud:cs/nodePool:NodePool", "gpu"))

Overrides replace whole top-level keys of the `ack-inference` namespace (None removes a key); `secrets`
names override keys that are stored as secrets.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterator
from typing import Any

from stacks.errors import ConfigError
from tooling.offline.recording import Plan, Registration
from tooling.offline.run import PROJECT_DIR, simulate, try_simulate
from tooling.offline.stack_files import StackConfig, load_stack_config

# What a stack that installs no add-on (`cluster.mode: kubeconfig`, `addons.manage: false`) declares the cluster
# has: the gateway's exposure needs Gateway API CRDs that serve `spec.infrastructure`, ACS isolation needs Poseidon.
DECLARED_ADDONS = {
    "gatewayApi": {"name": "gateway-api", "version": "v1.2.1"},
    "poseidon": {"name": "poseidon", "version": "v0.5.1"},
}


def stack_config(stack: str = "dev", overrides: dict[str, Any] | None = None, secrets=()) -> StackConfig:
    config = load_stack_config(PROJECT_DIR, stack)
    return config.with_overrides(overrides or {}, set(secrets)) if overrides or secrets else config


def plan_stack(stack: str = "dev", overrides: dict[str, Any] | None = None, secrets=(), preview: bool = False) -> Plan:
    if not overrides and not secrets and not preview:
        return _cached_plan(stack)
    return simulate(stack_config(stack, overrides, secrets), preview=preview)


@functools.cache
def _cached_plan(stack: str) -> Plan:
    # Unmodified stacks are planned once per session; tests only read the result.
    return simulate(stack_config(stack))


def config_error(stack: str = "dev", overrides: dict[str, Any] | None = None, secrets=()) -> ConfigError:
    """Runs the stack expecting a config error; checks that no resource was registered before it."""
    config = stack_config(stack, overrides, secrets)
    with _heap_frozen():
        plan, error = try_simulate(config)
    assert isinstance(error, ConfigError), f"expected a ConfigError, got {error!r}"
    assert plan.resources == [], [r.urn for r in plan.resources]
    return error


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """A failed run ends with a full garbage collection (`tooling.offline.run._close`), which in a test session
    would walk every plan and module loaded so far (~0.15 s a time). Objects that existed before the run are
    moved out of the collector's sight for its duration (`gc.freeze`), so the collection walks only what the
    run allocated, which is all it is there to collect; they are handed back to the collector afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def messages(error: ConfigError) -> list[str]:
    return [str(problem) for problem in error.problems]


def custom_resource(
    type_token: str, name: str, inputs: dict[str, Any], *, stack: str = "dev", project: str = "p", parent: str = ""
) -> Registration:
    """A custom resource as the recording monitor registers one, with no options set (for rule and diff tests)."""
    return Registration(
        urn=f"urn:pulumi:{stack}::{project}::{type_token}::{name}",
        type=type_token,
        name=name,
        custom=True,
        parent=parent,
        provider="",
        dependencies=[],
        protect=False,
        ignore_changes=[],
        delete_before_replace=False,
        retain_on_delete=False,
        custom_timeouts={},
        inputs=inputs,
    )
