"""The recording monitor sees what the engine would: graph, options, inputs (secrets redacted)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from tests.harness import plan_stack, stack_config
from tooling.offline.recording import SECRET, plain
from tooling.offline.run import simulate, try_simulate

STACK_URN = "urn:pulumi:dev::ack-inference::pulumi:pulumi:Stack::ack-inference-dev"


class Box(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:test:Box", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=pulumi.Output.secret("kubeconfig-text"), opts=pulumi.ResourceOptions(parent=self)
        )
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": "work"},
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, protect=True),
        )
        self.secret = k8s.core.v1.Secret(
            f"{name}-token",
            metadata={"name": "token", "namespace": self.namespace.metadata.name},
            string_data={"token": pulumi.Output.secret("s3cr3t-value")},
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-settings",
            metadata={"name": "settings", "namespace": "work"},
            data={"replicas": "3"},
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self.provider,
                depends_on=[self.secret],
                ignore_changes=["data"],
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="45m"),
            ),
        )
        self.register_outputs({})


def program() -> None:
    box = Box("box")
    inner = Box("inner", pulumi.ResourceOptions(parent=box))
    k8s.apps.v1.Deployment(
        "app",
        metadata={"name": "app", "namespace": "work"},
        spec={
            "replicas": 2,
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "i:1", "resources": {"limits": {"cpu": 0.5}}}]},
            },
        },
        opts=pulumi.ResourceOptions(provider=inner.provider),
    )
    pulumi.export("token", pulumi.Output.secret("exported-secret"))
    pulumi.export("count", 3)


@pytest.fixture(scope="module")
def plan():
    return simulate(stack_config("dev"), program=program)


def test_urns_follow_the_engine_type_chain(plan):
    box = plan.one("ack-inference:test:Box", "box")
    inner = plan.one("ack-inference:test:Box", "inner")
    assert box.urn == "urn:pulumi:dev::ack-inference::ack-inference:test:Box::box"
    assert box.parent == STACK_URN
    assert inner.urn == "urn:pulumi:dev::ack-inference::ack-inference:test:Box$ack-inference:test:Box::inner"
    namespace = plan.one("kubernetes:core/v1:Namespace", "inner-ns")
    assert namespace.parent == inner.urn
    assert plan.ancestors(namespace) == [inner, box]


def test_providers_are_recorded_by_urn(plan):
    provider = plan.one("pulumi:providers:kubernetes", "inner-k8s")
    deployment = plan.one("kubernetes:apps/v1:Deployment", "app")
    assert deployment.provider == provider.urn
    assert (
        plan.one("kubernetes:core/v1:Namespace", "box-ns").provider
        == plan.one("pulumi:providers:kubernetes", "box-k8s").urn
    )


def test_dependencies_explicit_and_implied_by_inputs(plan):
    namespace = plan.one("kubernetes:core/v1:Namespace", "box-ns")
    secret = plan.one("kubernetes:core/v1:Secret", "box-token")
    config_map = plan.one("kubernetes:core/v1:ConfigMap", "box-settings")
    assert namespace.urn in secret.dependencies  # implied by metadata.namespace
    assert secret.urn in config_map.dependencies  # explicit depends_on
    assert plan.depends_on(config_map, namespace)  # transitively
    assert not plan.depends_on(namespace, config_map)
    # through the provider, and on a whole component subtree
    deployment = plan.one("kubernetes:apps/v1:Deployment", "app")
    assert plan.depends_on(deployment, plan.one("pulumi:providers:kubernetes", "inner-k8s"))
    assert plan.depends_on(deployment, plan.one("ack-inference:test:Box", "inner"))  # its provider is inside
    assert not plan.depends_on(deployment, plan.one("kubernetes:core/v1:Namespace", "box-ns"))


def test_options_that_matter_are_recorded(plan):
    namespace = plan.one("kubernetes:core/v1:Namespace", "box-ns")
    config_map = plan.one("kubernetes:core/v1:ConfigMap", "box-settings")
    assert namespace.protect is True
    assert config_map.protect is False
    assert config_map.ignore_changes == ["data"]
    assert config_map.delete_before_replace is True
    assert config_map.custom_timeouts == {"create": "45m"}


def test_secrets_are_redacted_and_integers_stay_integers(plan):
    secret = plan.one("kubernetes:core/v1:Secret", "box-token")
    provider = plan.one("pulumi:providers:kubernetes", "box-k8s")
    assert set(secret.inputs["stringData"]) and set(secret.inputs["stringData"].values()) == {SECRET}
    assert provider.inputs["kubeconfig"] == SECRET
    deployment = plan.one("kubernetes:apps/v1:Deployment", "app")
    assert deployment.inputs["spec"]["replicas"] == 2
    assert isinstance(deployment.inputs["spec"]["replicas"], int)
    limits = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": 0.5}
    assert plan.outputs == {"token": SECRET, "count": 3}


def test_kubernetes_objects_are_complete_and_in_apply_order(plan):
    objects = plan.kubernetes_objects()
    kinds = [o["kind"] for o in objects]
    assert kinds == ["Namespace", "Namespace", "Secret", "Secret", "ConfigMap", "ConfigMap", "Deployment"]
    assert all(list(o)[:3] == ["apiVersion", "kind", "metadata"] for o in objects)
    assert "s3cr3t-value" not in repr(objects)


def test_duplicate_urns_are_reported():
    def twice() -> None:
        for _ in range(2):
            k8s.core.v1.Namespace("same", metadata={"name": "same"})

    plan = simulate(stack_config("dev"), program=twice)
    assert plan.duplicates == ["urn:pulumi:dev::ack-inference::kubernetes:core/v1:Namespace::same"]


def test_a_failing_program_returns_its_error_and_what_it_registered():
    def failing() -> None:
        k8s.core.v1.Namespace("before", metadata={"name": "before"})
        raise pulumi.RunError("stop here")

    plan, error = try_simulate(stack_config("dev"), program=failing)
    assert isinstance(error, pulumi.RunError)
    assert [r.name for r in plan.resources] == ["before"]


def test_runs_are_isolated_from_each_other():
    first = simulate(stack_config("dev"), program=program)
    second = simulate(stack_config("dev"), program=program)
    assert [r.to_json() for r in first.resources] == [r.to_json() for r in second.resources]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3.0, 3),
        (0.9, 0.9),
        ({"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "x"}, SECRET),
        ("04da6b54-80e4-46f7-96ec-b56ff0331ba9", "[unknown]"),
        ([1.0, {"a": 2.0}], [1, {"a": 2}]),
        # A secret map keeps its keys (a Secret's `stringData` stays a map of strings), never its values.
        (
            {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": {"a": "x", "b": ["y"]}},
            {"a": SECRET, "b": [SECRET]},
        ),
    ],
)
def test_plain_normalises_serialized_values(value, expected):
    assert plain(value) == expected


def test_two_objects_with_one_kubernetes_identity_are_reported():
    # Distinct URNs, one object in the cluster: the second create fails with AlreadyExists.
    def twice() -> None:
        for logical in ("first", "second"):
            k8s.core.v1.ConfigMap(logical, metadata={"name": "settings", "namespace": "llm"}, data={"a": "b"})
        k8s.core.v1.ConfigMap("elsewhere", metadata={"name": "settings", "namespace": "other"}, data={"a": "b"})

    plan = simulate(stack_config("dev"), program=twice)
    assert plan.duplicates == []
    [collision] = plan.identity_collisions()
    assert collision.startswith("urn:pulumi:dev::ack-inference::kubernetes:core/v1:ConfigMap::second claims ")
    assert "v1/ConfigMap/llm/settings" in collision


def test_creating_a_namespace_every_cluster_has_is_reported():
    def preset() -> None:
        k8s.core.v1.Namespace("system", metadata={"name": "kube-system"})
        k8s.core.v1.Namespace("own", metadata={"name": "llm"})

    plan = simulate(stack_config("dev"), program=preset)
    assert plan.identity_collisions() == [
        "urn:pulumi:dev::ack-inference::kubernetes:core/v1:Namespace::system creates namespace kube-system, which "
        "every cluster already has"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod", "v1alpha1", "v1alpha2"])
def test_committed_stacks_claim_each_identity_once(stack):
    assert plan_stack(stack).identity_collisions() == []
