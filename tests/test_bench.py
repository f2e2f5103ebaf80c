"""The benchmark's pure parts: which SDK names the import floor holds, the statistics and the verdict.

No benchmark runs here; `make bench` does that.
"""

import ast
import sys

import pytest

from tooling import bench
from tooling.bench import SdkName


@pytest.fixture(scope="module")
def floor_names() -> list[SdkName]:
    return bench.program_sdk_names()


def test_the_floor_holds_the_classes_the_program_uses(floor_names):
    assert SdkName("pulumi_alicloud.cs", "ManagedKubernetes") in floor_names
    assert SdkName("pulumi_kubernetes.apiextensions", "CustomResource") in floor_names
    assert SdkName("pulumi", "CustomResource") in floor_names
    assert SdkName("pulumi_kubernetes.core.v1", "Namespace") in floor_names
    assert SdkName("pulumi", "ComponentResource") in floor_names


def test_the_floor_holds_no_module_the_program_never_uses(floor_names):
    modules = {name.module for name in floor_names}
    # Packages and API versions that the SDKs ship and the program never names.
    for unused in (
        "pulumi_alicloud.oss",
        "pulumi_alicloud.rds",
        "pulumi_kubernetes.storage.v1",
        "pulumi_kubernetes.yaml",
    ):
        assert not any(module == unused or module.startswith(unused + ".") for module in modules), unused
    assert "pulumi_kubernetes.core.v1" in modules
    assert "pulumi_kubernetes.apps.v1beta1" not in modules
    # Names, not whole SDK packages: the floor never imports a package just to have it.
    assert not {SdkName("pulumi_alicloud"), SdkName("pulumi_kubernetes")} & set(floor_names)


def test_the_floor_script_imports_exactly_the_names_then_freezes(floor_names):
    script = bench.import_floor_script(floor_names)
    imported = set()
    for node in ast.parse(script).body:
        if isinstance(node, ast.ImportFrom):
            imported |= {SdkName(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {SdkName(alias.name) for alias in node.names if alias.name != "gc"}
    assert imported == set(floor_names)
    assert script.endswith("gc.freeze()\n")
    assert "gc.freeze" not in bench.import_floor_script(floor_names, freeze=False)


def test_references_follow_aliases_and_attribute_chains():
    source = """
import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.settings import get_stack

cluster = alicloud.cs.ManagedKubernetes("c", opts=pulumi.ResourceOptions())
ns = k8s.core.v1.Namespace("n")
token = pulumi.Output.secret("x").apply(str)
key = rpc._special_sig_key
credentials = alicloud.cs.get_cluster_credential_output(cluster_id="x").kube_config
text = yaml.safe_dump({"a": "pulumi_alicloud.oss.Bucket"})
"""
    assert bench.sdk_references(source) == {
        "pulumi_alicloud.cs.ManagedKubernetes",
        "pulumi.ResourceOptions",
        "pulumi_kubernetes.core.v1.Namespace",
        "pulumi.Output.secret",
        "pulumi.runtime.rpc._special_sig_key",
        "pulumi_alicloud.cs.get_cluster_credential_output",
        # Imported, never read: the import still runs.
        "pulumi.runtime.settings.get_stack",
    }


def test_a_reference_resolves_to_the_object_it_names():
    assert bench.resolve("pulumi_alicloud.cs.ManagedKubernetes") == SdkName("pulumi_alicloud.cs", "ManagedKubernetes")
    # The class the package exports, not the same-named module that defines it.
    assert bench.resolve("pulumi_kubernetes.core.v1.Namespace") == SdkName("pulumi_kubernetes.core.v1", "Namespace")
    # A chain past the object (a method) is trimmed to the object.
    assert bench.resolve("pulumi.Output.secret") == SdkName("pulumi", "Output")
    assert bench.resolve("pulumi.runtime.rpc") == SdkName("pulumi.runtime.rpc")


def test_summary_gives_the_median_and_spread():
    summary = bench.summarize([1.0, 5.0, 2.0, 3.0, 4.0])
    assert (summary.median, summary.low, summary.high) == (3.0, 1.0, 5.0)
    assert (summary.q1, summary.q3) == (2.0, 4.0)
    assert "median 3.00x" in summary.describe("x")
    single = bench.summarize([2.5])
    assert (single.median, single.low, single.high, single.q1, single.q3) == (2.5,) * 5
    with pytest.raises(ValueError):
        bench.summarize([])


def test_ratios_and_per_model_costs_are_paired_by_round():
    assert bench.paired_ratios([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
    assert bench.per_model_ms([1.3, 1.6], [1.0, 1.0], extra_models=15) == pytest.approx([20.0, 40.0])
    with pytest.raises(ValueError):
        bench.paired_ratios([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        bench.per_model_ms([1.0], [1.0], extra_models=0)


def test_a_missed_target_exits_non_zero_and_says_which():
    assert bench.missed_targets(1.3, 30.0) == []
    assert bench.exit_status(bench.missed_targets(1.3, 30.0)) == 0

    (ratio,) = bench.missed_targets(1.56, 12.0)
    assert "1.56x" in ratio and "1.30x" in ratio
    assert bench.exit_status([ratio]) != 0

    (per_model,) = bench.missed_targets(1.1, 31.5)
    assert "31.5 ms" in per_model and "30 ms" in per_model
    assert bench.exit_status([per_model]) != 0

    assert len(bench.missed_targets(2.0, 50.0)) == 2


def test_measurements_are_interleaved_and_the_warm_up_is_dropped(monkeypatch, tmp_path):
    calls = []

    def fake_cpu(command, cwd):
        calls.append(command[0])
        return float(len(calls))

    monkeypatch.setattr(bench, "child_cpu_seconds", fake_cpu)
    times = bench.interleaved({"a": ["A"], "b": ["B"]}, tmp_path, rounds=2, warmup=1)
    assert calls == ["A", "B", "A", "B", "A", "B"]
    assert times == {"a": [3.0, 5.0], "b": [4.0, 6.0]}


def test_child_cpu_time_is_the_child_s_own(tmp_path):
    assert bench.child_cpu_seconds([sys.executable, "-c", "sum(range(10**6))"], tmp_path) > 0
    with pytest.raises(RuntimeError, match="exited 3"):
        bench.child_cpu_seconds([sys.executable, "-c", "raise SystemExit(3)"], tmp_path)
