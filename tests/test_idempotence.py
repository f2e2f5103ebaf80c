"""A second `pulumi up` right after the first must change nothing: every committed stack, planned again against
the states its first plan left (as the providers read them back), has no changes."""

from __future__ import annotations

import pytest

from tests.harness import config_error, messages, stack_config
from tooling.offline import idempotence, mocks
from tooling.offline.run import PROJECT_DIR, simulate
from tooling.offline.stack_files import available_stacks


@pytest.mark.parametrize("stack", available_stacks(PROJECT_DIR))
def test_a_second_plan_changes_nothing(stack):
    first = simulate(stack_config(stack))
    prior = idempotence.prior_states(first)
    second = simulate(stack_config(stack), prior=prior)
    assert idempotence.changes(second, prior) == []


def test_an_addon_config_the_provider_reads_back_differently_is_a_change():
    # The add-on config as `json.dumps(sort_keys=True)` renders it (with spaces): the provider stores Go's
    # compact JSON, so every run would update the add-on.
    first = simulate(stack_config("dev"))
    prior = idempotence.prior_states(first)
    addon = next(r for r in first.resources if r.inputs.get("config"))
    assert prior[(addon.type, addon.name)][1]["config"] == '{"enableInferenceExtension":true}'
    addon.inputs["config"] = '{"enableInferenceExtension": true}'
    assert idempotence.changes(first, prior) == [f"{addon.urn}: .config"]


def test_a_tag_the_provider_drops_on_read_would_never_converge():
    # What the config rule on `ack-inference:tags` prevents: the provider's Read drops `ack.aliyun.com`, so the
    # tag would be a change on every run.
    first = simulate(stack_config("dev"))
    prior = dict(idempotence.prior_states(first))
    vpc = next(r for r in first.resources if r.type == "alicloud:vpc/network:Network")
    vpc.inputs["tags"] = {**vpc.inputs["tags"], "ack.aliyun.com": "x"}
    read = mocks.READ_BACK[vpc.type](dict(vpc.inputs), None)
    prior[(vpc.type, vpc.name)] = (prior[(vpc.type, vpc.name)][0], read)
    assert idempotence.changes(first, prior) == [f"{vpc.urn}: .tags.ack.aliyun.com"]


def test_the_config_refuses_tags_the_provider_drops():
    error = config_error("dev", {"tags": {"ack.aliyun.com": "x"}})
    assert messages(error)[0].startswith("ack-inference:tags: has a key the provider drops when it reads tags back")
