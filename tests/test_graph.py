"""The resource graph: components as subgraphs, every resource once, the dependencies that matter, stable ids."""

from __future__ import annotations

import re

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s
import pytest

from tests.harness import plan_stack, stack_config
from tooling.graph import node_id, render_mermaid
from tooling.offline.recording import Plan
from tooling.offline.run import simulate
from tooling.plan import write_plan

NODE = re.compile(r"^\s*(r_\w+)(\[\"|\(\"|\{\{\")(.*?)(\"\]|\"\)|\"\}\})$")
SUBGRAPH = re.compile(r'^\s*subgraph (r_\w+)\["(.*)"\]$')
EDGE = re.compile(r"^\s*(r_\w+) (-->|-\.->) (r_\w+)$")


class Cluster(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:cloud:AckCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        vpc = alicloud.vpc.Network(f"{name}-vpc", cidr_block="10.0.0.0/16", opts=child)
        self.cluster = alicloud.cs.ManagedKubernetes(f"{name}-cluster", vswitch_ids=[vpc.id], opts=child)
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=pulumi.Output.secret("kubeconfig"), opts=pulumi.ResourceOptions(parent=self)
        )
        self.register_outputs({})


class Server(pulumi.ComponentResource):
    def __init__(self, name: str, cluster: Cluster, extra: bool, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ack-inference:inference:ModelServer", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=cluster.provider)
        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": "llm"}, opts=on_cluster)
        k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": "config", "namespace": namespace.metadata.name},
            data={"a": "b"},
            opts=on_cluster,
        )
        # Waits for the namespace (through its input) and, explicitly, for the cluster's whole component.
        k8s.core.v1.Service(
            f"{name}-svc",
            metadata={"name": "svc", "namespace": namespace.metadata.name},
            spec={"ports": [{"port": 8000}]},
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[cluster])),
        )
        if extra:
            k8s.core.v1.ConfigMap(f"{name}-extra", metadata={"name": "extra", "namespace": "llm"}, opts=on_cluster)
        self.register_outputs({})


def make_program(extra: bool = False):
    def program() -> None:
        cluster = Cluster("ack")
        Server("vllm", cluster, extra)

    return program


@pytest.fixture(scope="module")
def plan() -> Plan:
    return simulate(stack_config("dev"), program=make_program())


@pytest.fixture(scope="module")
def graph(plan) -> str:
    return render_mermaid(plan)


def parse(graph: str) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]], set[tuple[str, str, str]]]:
    """Node labels, the subgraph each node or subgraph sits in, subgraph labels, and edges."""
    nodes, parents, subgraphs, edges = {}, {}, {}, set()
    stack: list[str] = []
    lines = graph.splitlines()
    assert lines[0] == "flowchart LR"
    for line in lines[1:]:
        if match := SUBGRAPH.match(line):
            parents[match[1]] = stack[-1] if stack else ""
            subgraphs[match[1]] = match[2]
            stack.append(match[1])
        elif line.strip() == "end":
            stack.pop()
        elif match := NODE.match(line):
            assert match[1] not in nodes, f"{match[1]} drawn twice"
            nodes[match[1]] = match[3]
            parents[match[1]] = stack[-1] if stack else ""
        elif match := EDGE.match(line):
            edges.add((match[1], match[2], match[3]))
        else:
            raise AssertionError(f"not a line of the expected Mermaid: {line!r}")
    assert stack == [], "every subgraph is closed"
    return nodes, parents, subgraphs, edges


def ident(plan: Plan, name: str) -> str:
    (resource,) = [r for r in plan.resources if r.name == name]
    return node_id(resource.urn, resource.name)


def test_every_resource_is_one_node_inside_its_components_subgraph(plan, graph):
    nodes, parents, subgraphs, _ = parse(graph)
    custom = [r for r in plan.resources if r.custom]
    assert set(nodes) == {node_id(r.urn, r.name) for r in custom}
    for resource in custom:
        parent = plan.by_urn(resource.parent) if resource.parent != plan.stack_urn else None
        assert parents[node_id(resource.urn, resource.name)] == (node_id(parent.urn, parent.name) if parent else "")
    assert subgraphs == {ident(plan, "ack"): "ack (AckCluster)", ident(plan, "vllm"): "vllm (ModelServer)"}
    assert nodes[ident(plan, "vllm-svc")] == "vllm-svc<br/>Service"
    assert nodes[ident(plan, "ack-k8s")] == "ack-k8s<br/>provider kubernetes"


def test_shapes_tell_cloud_resources_kubernetes_objects_and_providers_apart(plan, graph):
    assert f'{ident(plan, "ack-cluster")}["ack-cluster<br/>ManagedKubernetes"]' in graph
    assert f'{ident(plan, "vllm-ns")}("vllm-ns<br/>Namespace")' in graph
    assert f'{ident(plan, "ack-k8s")}{{{{"ack-k8s<br/>provider kubernetes"}}}}' in graph


def test_edges_are_the_dependencies_without_those_a_longer_path_implies(plan, graph):
    *_, edges = parse(graph)
    names = {ident(plan, r.name): r.name for r in plan.resources}
    named = {(names[a], arrow, names[b]) for a, arrow, b in edges}
    assert named == {
        ("ack-vpc", "-->", "ack-cluster"),
        # Only the namespace hangs off the provider: the objects inside it wait for it anyway.
        ("ack-k8s", "-.->", "vllm-ns"),
        ("vllm-ns", "-->", "vllm-config"),
        ("vllm-ns", "-->", "vllm-svc"),
        # depends_on=[cluster component] expands to its children; the VPC comes via the cluster.
        ("ack-cluster", "-->", "vllm-svc"),
    }
    for source, _, target in named:
        assert plan.depends_on(plan.one(*_type_and_name(plan, target)), plan.one(*_type_and_name(plan, source)))


def _type_and_name(plan: Plan, name: str) -> tuple[str, str]:
    (resource,) = [r for r in plan.resources if r.name == name]
    return resource.type, name


def test_rendering_is_deterministic_and_ids_survive_other_changes(plan, graph):
    assert render_mermaid(simulate(stack_config("dev"), program=make_program())) == graph
    changed = simulate(stack_config("dev"), program=make_program(extra=True))
    nodes, *_ = parse(render_mermaid(changed))
    before, *_ = parse(graph)
    assert set(before) < set(nodes)
    assert set(nodes) - set(before) == {ident(changed, "vllm-extra")}


def test_labels_with_quotes_stay_inside_the_label():
    def program() -> None:
        alicloud.vpc.Network('vpc "main"', cidr_block="10.0.0.0/16")

    nodes, *_ = parse(render_mermaid(simulate(stack_config("dev"), program=program)))
    assert list(nodes.values()) == ["vpc #quot;main#quot;<br/>Network"]


def test_the_offline_plan_writes_the_graph_beside_the_other_files(plan, graph, tmp_path):
    written = write_plan(plan, tmp_path)
    assert tmp_path / "graph.mmd" in written
    assert (tmp_path / "graph.mmd").read_text() == graph


def test_the_dev_stack_graph_holds_every_component_and_resource_of_its_plan():
    plan = plan_stack("dev")
    nodes, _, subgraphs, edges = parse(render_mermaid(plan))
    assert set(nodes) == {node_id(r.urn, r.name) for r in plan.resources if r.custom}
    assert set(subgraphs) == {node_id(r.urn, r.name) for r in plan.resources if not r.custom}
    # Every arrow is a real ordering, and everything the program builds hangs together in one picture.
    by_id = {node_id(r.urn, r.name): r for r in plan.resources}
    for source, _, target in edges:
        assert plan.depends_on(by_id[target], by_id[source])
    linked = {end for source, _, target in edges for end in (source, target)}
    assert set(nodes) == linked
