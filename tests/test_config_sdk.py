"""The Pulumi SDK internals `stacks/config_loader.py` reads config through, pinned: they exist, have the shape the
loader uses and behave as it expects. The public `pulumi.Config` cannot list a namespace's keys nor tell which
are secret (see `project_config`); if a newer SDK changes the internals or grows such a method, these fail."""

from __future__ import annotations

import ast
import contextvars
import inspect
import json
from contextvars import ContextVar

import pulumi
from pulumi.runtime import config as pulumi_config

from stacks import config_loader
from stacks.config_loader import project_config

# What the loader uses from `pulumi.runtime.config`.
USED = {"CONFIG", "get_config_env", "get_config_secret_keys_env", "is_config_secret"}
# `pulumi.Config`'s public methods in the pinned SDK: none lists keys or tells whether a key is a secret.
PUBLIC_CONFIG_METHODS = {
    "full_key",
    "get",
    "get_bool",
    "get_float",
    "get_int",
    "get_object",
    "get_secret",
    "get_secret_bool",
    "get_secret_float",
    "get_secret_int",
    "get_secret_object",
    "require",
    "require_bool",
    "require_float",
    "require_int",
    "require_object",
    "require_secret",
    "require_secret_bool",
    "require_secret_float",
    "require_secret_int",
    "require_secret_object",
}


def test_loader_uses_only_the_pinned_internals():
    tree = ast.parse(inspect.getsource(config_loader))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "pulumi_config"
    }
    assert used == USED


def test_public_config_still_cannot_list_keys_or_tell_secrets():
    public = {name for name in vars(pulumi.Config) if not name.startswith("_")}
    assert public == PUBLIC_CONFIG_METHODS, (
        f"pulumi.Config changed ({sorted(public ^ PUBLIC_CONFIG_METHODS)}): if it can now list a namespace's keys "
        "and tell secret keys, read config through it in stacks/config_loader.py:project_config"
    )


def test_internals_have_the_shape_the_loader_uses():
    assert isinstance(pulumi_config.CONFIG, ContextVar)
    signatures = {name: list(inspect.signature(getattr(pulumi_config, name)).parameters) for name in USED - {"CONFIG"}}
    assert signatures == {"get_config_env": [], "get_config_secret_keys_env": [], "is_config_secret": ["k"]}
    assert list(inspect.signature(pulumi_config.set_all_config).parameters) == ["config", "secret_keys"]


def isolated(function) -> None:
    """Runs a function in a copy of the current context, so the config it sets does not outlive the test."""
    contextvars.copy_context().run(function)


def test_internals_behave_as_used(monkeypatch):
    # What the language host hands over in the environment ...
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps({"ack-inference:tier": "development", "ack-inference:hfToken": "env-token", "aws:region": "x"}),
    )
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["ack-inference:hfToken"]))
    # ... and what `set_all_config` sets (tests, the offline plan), which wins over it.
    config = {"ack-inference:tier": "production", "ack-inference:tags": '{"team": "search"}', "ack-inference:k": "v"}

    def run():
        pulumi.runtime.set_all_config(config, ["ack-inference:k"])
        assert pulumi_config.CONFIG.get() == config
        assert pulumi_config.get_config_env()["ack-inference:hfToken"] == "env-token"
        assert pulumi_config.get_config_secret_keys_env() == ["ack-inference:hfToken"]
        assert pulumi_config.is_config_secret("ack-inference:k")
        assert not pulumi_config.is_config_secret("ack-inference:hfToken")
        values, secrets = project_config()
        assert values == {"tier": "production", "hfToken": "env-token", "tags": '{"team": "search"}', "k": "v"}
        assert secrets == {"hfToken", "k"}
        # The values are what the public API reads for each key.
        public = pulumi.Config("ack-inference")
        assert {key: public.get(key) for key in values} == values
        assert public.get_object("tags") == {"team": "search"}

    isolated(run)


def test_nothing_configured(monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_SECRET_KEYS", raising=False)

    def run():
        pulumi.runtime.set_all_config({}, [])
        assert pulumi_config.get_config_env() == {}
        assert pulumi_config.get_config_secret_keys_env() == []
        assert project_config() == ({}, set())

    isolated(run)
