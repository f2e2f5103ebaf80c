"""Alert delivery: `alertWebhookUrl` becomes the self-managed Alertmanager's default receiver (a secret all the
way), and a preview says so when alerts would reach no one."""

from __future__ import annotations

import json

import pulumi
import pytest

from tests.harness import config_error, messages, plan_stack
from tooling.offline.recording import SECRET

URL = "https://dingtalk-bridge.monitoring.svc:8060/dingtalk/ops/send"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    found: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: found.append(message))
    return found


def observability_warnings(warnings: list[str]) -> list[str]:
    """The warnings about alert delivery (dev in cn-hangzhou also warns about its Docker Hub image)."""
    return [w for w in warnings if not w.startswith("ack-inference:models[")]


def with_webhook(overrides=None):
    return plan_stack("dev", {"alertWebhookUrl": URL, **(overrides or {})}, ("alertWebhookUrl",))


def test_the_webhook_is_the_alertmanager_s_default_receiver_and_stays_secret(warnings):
    plan = with_webhook()
    config = plan.one(RELEASE).inputs["values"]["alertmanager"]["config"]
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    default = receivers[config["route"]["receiver"]]
    assert default["webhook_configs"] == [{"url": SECRET, "send_resolved": True}]
    # The chart's own `null` receiver stays defined: its default route sends the always-firing Watchdog there.
    assert receivers["null"] == {"name": "null"}
    assert URL not in json.dumps(plan.to_json())
    assert observability_warnings(warnings) == []


def test_a_preview_warns_when_alerts_reach_no_one(warnings):
    plan_stack("dev", {"observability": {"selfManaged": {"enabled": True}, "alerts": {"enabled": True}}})
    (warning,) = [w for w in warnings if "receiver" in w]
    assert "ack-inference:alertWebhookUrl" in warning


def test_no_warning_without_alerts(warnings):
    plan_stack("dev", {"observability": {"selfManaged": {"enabled": True}, "alerts": {"enabled": False}}})
    assert observability_warnings(warnings) == []


def test_without_a_webhook_the_chart_keeps_its_receivers():
    assert "alertmanager" not in plan_stack("dev").one(RELEASE).inputs["values"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"alertWebhookUrl": "dingtalk-bridge:8060"},
            "ack-inference:alertWebhookUrl: must be an http:// or https:// URL",
        ),
        (
            {"alertWebhookUrl": URL, "observability": {"selfManaged": {"enabled": False}}},
            "ack-inference:alertWebhookUrl: configures the self-managed Alertmanager, which "
            "`observability.selfManaged.enabled` installs; with ARMS or your own Prometheus Operator, configure alert "
            "delivery there",
        ),
    ],
)
def test_a_webhook_that_cannot_work_is_a_config_error(overrides, message):
    error = config_error("dev", overrides, ("alertWebhookUrl",))
    assert messages(error) == [message]
    assert overrides["alertWebhookUrl"] not in str(error)
