"""Stack files that a real `pulumi up` (or the cluster) would reject fail the offline plan first: exit 2, one
line naming the key, no traceback, nothing written. Each case is a finding of issue 12."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

from tooling.offline.checkout import copy_program

DEV = {
    "pulumi:disable-default-providers": ["kubernetes"],
    "alicloud:region": "cn-hangzhou",
    "ack-inference:tier": "development",
}
SIX_ZONES = [{"zoneId": f"cn-hangzhou-{z}", "cidr": f"10.0.{16 * i}.0/20"} for i, z in enumerate("bghijk")]
LORA = {"chatTemplate": "llama-2"}

# (case, config entries added to (or, with None, removed from) the dev stack, the key the one line names)
CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "a typo in the project namespace",
        {"ack-inference:tier": None, "ack-inferense:tier": "production"},
        "ack-inferense:tier: is in namespace `ack-inferense`, which nothing reads (did you mean `ack-inference:tier`?)",
    ),
    (
        "a typo in a provider key",
        {"alicloud:regoin": "cn-hangzhou"},
        "alicloud:regoin: is not a key of the alicloud provider (did you mean `alicloud:region`?)",
    ),
    ("no region", {"alicloud:region": None}, "alicloud:region: is required"),
    (
        "a zone of another region",
        {
            "ack-inference:network": {
                "vswitches": [
                    {"zoneId": "cn-hangzhou-i", "cidr": "10.0.0.0/20"},
                    {"zoneId": "cn-shanghai-b", "cidr": "10.0.16.0/20"},
                ]
            }
        },
        "ack-inference:network.vswitches[1].zoneId: `cn-shanghai-b` is not a zone of `alicloud:region`",
    ),
    (
        "a gateway namespace every cluster has",
        {"ack-inference:gateway": {"namespace": "kube-system"}},
        "ack-inference:gateway.namespace: `kube-system` already exists in every cluster",
    ),
    (
        "a monitoring namespace every cluster has",
        {"ack-inference:observability": {"selfManaged": {"enabled": True, "namespace": "envoy-gateway-system"}}},
        "ack-inference:observability.selfManaged.namespace: `envoy-gateway-system` already exists",
    ),
    (
        "one namespace created twice",
        {
            "ack-inference:gateway": {"namespace": "llm"},
            "ack-inference:observability": {"selfManaged": {"enabled": True, "namespace": "llm"}},
        },
        "ack-inference:observability.selfManaged.namespace: is also `gateway.namespace`",
    ),
    (
        "a zone the region does not have",
        {
            "ack-inference:network": {
                "vswitches": [
                    {"zoneId": "cn-hangzhou-i", "cidr": "10.0.0.0/20"},
                    {"zoneId": "cn-hangzhou-z", "cidr": "10.0.16.0/20"},
                ]
            }
        },
        "ack-inference:network.vswitches[1].zoneId: `cn-hangzhou-z` is not a zone of cn-hangzhou",
    ),
    (
        "a NAT gateway in a zone without Enhanced NAT",
        {
            "ack-inference:network": {
                "vswitches": [
                    {"zoneId": "cn-hangzhou-b", "cidr": "10.0.0.0/20"},
                    {"zoneId": "cn-hangzhou-j", "cidr": "10.0.16.0/20"},
                ]
            }
        },
        "ack-inference:network.vswitches[0].zoneId: `cn-hangzhou-b` holds the NAT gateway",
    ),
    (
        "an instance type not sold in the zones",
        {"ack-inference:nodePools": {"system": {"instanceTypes": ["ecs.g7.xlargee"]}}},
        "ack-inference:nodePools.system.instanceTypes[0]: `ecs.g7.xlargee` is not sold",
    ),
    (
        "a Kubernetes version ACK does not offer",
        {"ack-inference:cluster": {"kubernetesVersion": "1.30.1-aliyun.1"}},
        "ack-inference:cluster.kubernetesVersion: ACK does not offer `1.30.1-aliyun.1`",
    ),
    ("six vswitches", {"ack-inference:network": {"vswitches": SIX_ZONES}}, "ack-inference:network.vswitches:"),
    (
        "EIP bandwidth above 200",
        {"ack-inference:network": {"egressBandwidthMbps": 500}},
        "ack-inference:network.egressBandwidthMbps:",
    ),
    ("cluster name starting with a digit", {"ack-inference:cluster": {"name": "1st"}}, "ack-inference:cluster.name:"),
    ("one-character cluster name", {"ack-inference:cluster": {"name": "a"}}, "ack-inference:cluster.name:"),
    (
        "chat template over 1 MiB",
        {"ack-inference:models": [{"chatTemplate": "{{ x }}" + "x" * (2 * 1024 * 1024)}]},
        "ack-inference:models[0].chatTemplate:",
    ),
    (
        "pod memory below /dev/shm",
        {"ack-inference:models": [{**LORA, "memory": "2Gi", "shmSizeGib": 4}]},
        "ack-inference:models[0].memory:",
    ),
    (
        "maxCpuLoras below maxLoras",
        {"ack-inference:models": [{**LORA, "lora": {"maxLoras": 4, "maxCpuLoras": 2}}]},
        "ack-inference:models[0].lora.maxCpuLoras:",
    ),
    (
        "duplicate adapter names",
        {
            "ack-inference:models": [
                {**LORA, "lora": {"adapters": [{"name": "sql", "path": "a/b"}, {"name": "sql", "path": "c/d"}]}}
            ]
        },
        "ack-inference:models[0].lora.adapters[1].name:",
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_program(tmp_path_factory.mktemp("checkout"))


@pytest.fixture(scope="module")
def results(project) -> dict[str, tuple[subprocess.CompletedProcess, bool]]:
    def run(case: tuple[str, dict[str, Any], str]) -> tuple[str, tuple[subprocess.CompletedProcess, bool]]:
        name, entries, _ = case
        stack = name.replace(" ", "-").replace("/", "")
        config = {key: value for key, value in {**DEV, **entries}.items() if value is not None}
        (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
        result = subprocess.run(
            [sys.executable, "-m", "tooling.plan", "--stack", stack, "--out", f"build/{stack}"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return name, (result, (project / f"build/{stack}").exists())

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize(("name", "entries", "key"), CASES, ids=[case[0] for case in CASES])
def test_the_plan_fails_where_pulumi_up_would(results, name, entries, key):
    result, wrote = results[name]
    assert result.returncode == 2, result.stdout[-2000:]
    assert not wrote
    assert "Traceback" not in result.stderr + result.stdout
    # A config error lists its problems under a header; a preflight failure is the error line itself. Preview
    # warnings (a Docker Hub image in cn-hangzhou, alerts with no receiver) are other lines.
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error: ", "  - "))]
    lines = [line.removeprefix("error: ").removeprefix("  - ") for line in errors]
    problems = [line for line in lines if not line.startswith("Invalid stack configuration")]
    assert len(problems) == 1 and problems[0].startswith(key), result.stderr


def run_plan(project, stack: str, document: dict[str, Any]) -> subprocess.CompletedProcess:
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return subprocess.run(
        [sys.executable, "-m", "tooling.plan", "--stack", stack, "--out", f"build/{stack}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_misspelt_top_level_key_is_one_line_with_the_closest_key(project):
    # A top-level `confg:` would drop every key: the stack would plan as all defaults.
    result = run_plan(project, "confg", {"confg": DEV})
    assert result.returncode == 2
    assert result.stderr == (
        "error: Pulumi.confg.yaml: unknown top-level key `confg` (did you mean `config`?); allowed: config, "
        "environment, secretsprovider, encryptedkey, encryptionsalt\n"
    )


def test_a_structured_secret_set_as_one_secure_json_value_plans(project):
    # What `pulumi config set --secret ack-inference:apiKeys '{...}'` writes: one ciphertext for the whole map.
    config = {**DEV, "ack-inference:apiKeys": {"secure": "v1:c2VjcmV0Y2lwaGVy"}}
    result = run_plan(project, "secure-json", {"config": config})
    assert result.returncode == 0, result.stderr
    planned = (project / "build/secure-json/kubernetes.yaml").read_text()
    secrets = [
        d for d in yaml.safe_load_all(planned) if d["kind"] == "Secret" and d["metadata"]["name"].endswith("api-keys")
    ]
    assert len(secrets) == 1 and list(secrets[0]["stringData"].values()) == ["[secret]"]
