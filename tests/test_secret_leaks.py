"""Planted secret values never reach a rendered file, a stack output, the plan summary or the logs.

The recorder writes what the program registers; it redacts only values the program marked secret, so a secret
the program unwrapped into plain text would show up here.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import logging

import pytest
import yaml

from tests.harness import DECLARED_ADDONS, plan_stack
from tooling.graph import render_mermaid
from tooling.offline.recording import SECRET, Plan
from tooling.plan import render_kubernetes_yaml, render_plan_json, summary

HF_TOKEN = "hf_plantedHuggingFaceToken7f3a9c"
API_KEY = "planted-api-key-5b8e2d7c1a"
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: planted\n  user: {token: planted-kubeconfig-token-9d4c}\n"

TOKENS = {
    "hfToken": HF_TOKEN,
    "apiKeys": {"client-a": API_KEY},
    "models": [{"source": {"type": "huggingFace", "repo": "meta-llama/Llama-2-7b-hf"}}],
}
KUBECONFIG_MODE = {"kubeconfig": KUBECONFIG, "cluster": {"mode": "kubeconfig"}, "addons": DECLARED_ADDONS}
SCENARIOS = {
    "hf-token-and-api-keys": (TOKENS, ("hfToken", "apiKeys")),
    "kubeconfig": (KUBECONFIG_MODE, ("kubeconfig",)),
}
PLANTED = {"hf-token-and-api-keys": [HF_TOKEN, API_KEY], "kubeconfig": [KUBECONFIG]}


def forms(secret: str) -> list[str]:
    """The value and the encodings a Kubernetes Secret or a JSON/YAML renderer would give it."""
    encoded = base64.b64encode(secret.encode()).decode()
    return [secret, encoded, json.dumps(secret)[1:-1], *(line for line in secret.splitlines() if "planted" in line)]


@functools.cache
def planted_plan(scenario: str) -> tuple[Plan, str]:
    """The dev plan with the scenario's secrets planted, and everything printed or logged while planning."""
    overrides, secret_keys = SCENARIOS[scenario]
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            plan = plan_stack("dev", overrides, secrets=secret_keys)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return plan, output.getvalue()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_planted_secrets_appear_nowhere(scenario):
    plan, logs = planted_plan(scenario)
    places = {
        "plan.json": render_plan_json(plan),
        "kubernetes.yaml": render_kubernetes_yaml(plan),
        "graph.mmd": render_mermaid(plan),
        "stack outputs": json.dumps(plan.outputs),
        "summary": summary(plan),
        "logs and stdout": logs,
    }
    for secret in PLANTED[scenario]:
        for form in forms(secret):
            leaks = [place for place, text in places.items() if form in text]
            assert leaks == [], f"{form!r} found in {leaks}"


def test_token_and_api_keys_are_carried_as_secrets():
    plan, _ = planted_plan("hf-token-and-api-keys")
    hf_secret = plan.one("kubernetes:core/v1:Secret", "vllm-llama2-7b-pool-hf-token")
    [api_keys_secret] = [r for r in plan.of_type("kubernetes:core/v1:Secret") if r.name.endswith("api-keys")]
    for resource in (hf_secret, api_keys_secret):
        assert resource.inputs["stringData"] and set(resource.inputs["stringData"].values()) == {SECRET}
    rendered = {obj["metadata"]["name"]: obj for obj in yaml.safe_load_all(render_kubernetes_yaml(plan))}
    for resource in (hf_secret, api_keys_secret):
        assert rendered[resource.inputs["metadata"]["name"]]["stringData"] == resource.inputs["stringData"]
    # The model server reads the token from the Secret, never from a literal env value.
    container = plan.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    [token_env] = [env for env in container["env"] if env["name"] == "HF_TOKEN"]
    assert token_env["valueFrom"]["secretKeyRef"]["name"] == hf_secret.inputs["metadata"]["name"]


def test_kubeconfig_is_carried_as_a_secret():
    plan, _ = planted_plan("kubeconfig")
    provider = plan.one("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == SECRET
    assert plan.outputs.get("kubeconfig", SECRET) == SECRET


def test_created_cluster_kubeconfig_output_is_secret():
    plan = plan_stack("prod")
    assert plan.outputs["kubeconfig"] == SECRET
    assert plan.one("pulumi:providers:kubernetes").inputs["kubeconfig"] == SECRET
