"""Prometheus' Kubernetes pod discovery and relabelling, enough to run a scrape job's rules on a pod offline.

Debian's promtool is built without Kubernetes discovery, so the tests apply the jobs' relabelling here.
"""

from __future__ import annotations

import re

from tests.promtool.stack import NAMESPACE


def _meta_name(key: str) -> str:
    """How discovery spells an annotation or label key inside a meta label name."""
    return "".join(char if char.isalnum() else "_" for char in key)


def discovered(annotations: dict[str, str], labels: dict[str, str], port: int) -> dict[str, str]:
    """A pod's container port as Kubernetes service discovery hands it to the relabelling rules."""
    meta = {
        "__address__": f"10.0.3.7:{port}",
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_pod_name": "vllm-llama2-7b-pool-6d4f9b7c8d-x2x4z",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_container_port_number": str(port),
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
    }
    for key, value in annotations.items():
        meta["__meta_kubernetes_pod_annotation_" + _meta_name(key)] = value
    for key, value in labels.items():
        meta["__meta_kubernetes_pod_label_" + _meta_name(key)] = value
    return meta


def relabel(job: dict, target: dict[str, str]) -> dict[str, str] | None:
    """Prometheus' relabelling (keep, drop, replace, labelmap) for the rules the jobs use; None = dropped."""
    labels = dict(target)
    if "metrics_path" in job:
        labels["__metrics_path__"] = job["metrics_path"]
    for rule in job["relabel_configs"]:
        action = rule.get("action", "replace")
        regex = re.compile(rule.get("regex", "(.*)"))
        source = ";".join(labels.get(name, "") for name in rule.get("source_labels", []))
        if action == "keep" and not regex.fullmatch(source):
            return None
        if action == "drop" and regex.fullmatch(source):
            return None
        if action == "replace":
            match = regex.fullmatch(source)
            if match:
                replacement = rule.get("replacement", "$1")
                labels[rule["target_label"]] = match.expand(replacement.replace("$", "\\"))
        if action == "labelmap":
            for name, value in list(labels.items()):
                match = regex.fullmatch(name)
                if match:
                    labels[match.expand(rule.get("replacement", "$1").replace("$", "\\"))] = value
    return {k: v for k, v in labels.items() if not k.startswith("__meta_")}
