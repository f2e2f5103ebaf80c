"""The provider config keys the stack-file check accepts are the ones the installed SDKs read."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pulumi_alicloud
import pytest
from pulumi_kubernetes.provider import ProviderArgs
from pydantic.alias_generators import to_camel

from stacks.config_loader import parse_settings
from stacks.errors import ConfigError
from stacks.stack_keys import ALICLOUD_KEYS, KUBERNETES_KEYS, namespace_problems
from tests.harness import DECLARED_ADDONS


def test_alicloud_keys_are_what_the_sdk_reads():
    source = (Path(pulumi_alicloud.__file__).parent / "config" / "vars.py").read_text()
    assert set(re.findall(r"__config__\.get\w*\('(\w+)'\)", source)) == ALICLOUD_KEYS


def test_kubernetes_keys_are_the_provider_arguments():
    arguments = [name for name in inspect.signature(ProviderArgs.__init__).parameters if not name.startswith("_")]
    assert {to_camel(name) for name in arguments} - {"self"} == KUBERNETES_KEYS


def test_every_namespace_the_program_reads_is_accepted():
    keys = ["alicloud:region", "kubernetes:context", "pulumi:disable-default-providers"]
    assert list(namespace_problems(keys)) == []


def test_region_is_not_needed_without_alibaba_cloud_resources():
    # `cluster.mode: kubeconfig` creates nothing on Alibaba Cloud.
    # (Such a stack declares the add-ons it finds installed: it cannot install or look them up.)
    kubeconfig = {"kubeconfig": "apiVersion: v1", "addons": json.dumps(DECLARED_ADDONS)}
    parse_settings(kubeconfig, {"kubeconfig"}, others={})
    with pytest.raises(ConfigError) as caught:
        parse_settings({}, (), others={})
    assert [str(p).split(":", 2)[:2] for p in caught.value.problems] == [["alicloud", "region"]]
