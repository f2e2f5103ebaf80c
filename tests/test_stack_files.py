"""Reading Pulumi.yaml and Pulumi.<stack>.yaml the way the CLI hands config to the program."""

import json
from pathlib import Path

import pytest

from tooling.offline.stack_files import (
    UNDECRYPTED_SECRET,
    StackFileError,
    available_stacks,
    load_stack_config,
)


def write_project(tmp_path: Path, stack_yaml: str, project_extra: str = "") -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: ack-inference\nruntime: python\n" + project_extra)
    (tmp_path / "Pulumi.test.yaml").write_text(stack_yaml)
    return tmp_path


def test_structured_values_become_json_and_scalars_strings(tmp_path):
    project = write_project(
        tmp_path,
        "config:\n"
        "  ack-inference:models:\n    - name: a\n      replicas: 2\n"
        "  ack-inference:tier: production\n"
        "  ack-inference:flag: true\n"
        "  alicloud:region: cn-beijing\n",
    )
    config = load_stack_config(project, "test")
    assert json.loads(config.values["ack-inference:models"]) == [{"name": "a", "replicas": 2}]
    assert config.values["ack-inference:tier"] == "production"
    assert config.values["ack-inference:flag"] == "true"
    assert config.values["alicloud:region"] == "cn-beijing"
    assert config.secret_keys == frozenset()


def test_secure_values_are_present_secrets_without_their_ciphertext(tmp_path):
    project = write_project(
        tmp_path,
        "config:\n"
        "  ack-inference:hfToken:\n    secure: v1:c2VjcmV0Y2lwaGVy\n"
        "  ack-inference:security:\n    apiKeys:\n      team-a:\n        secure: v1:b3RoZXI=\n",
    )
    config = load_stack_config(project, "test")
    assert config.values["ack-inference:hfToken"] == UNDECRYPTED_SECRET
    assert json.loads(config.values["ack-inference:security"]) == {"apiKeys": {"team-a": UNDECRYPTED_SECRET}}
    assert config.secret_keys == {"ack-inference:hfToken", "ack-inference:security"}
    assert "c2VjcmV0Y2lwaGVy" not in json.dumps(config.values)


def test_project_level_config_defaults_are_overridden_by_the_stack(tmp_path):
    project = write_project(
        tmp_path,
        "config:\n  ack-inference:tier: production\n",
        "config:\n  tier:\n    default: development\n  tags:\n    value:\n      team: ml\n",
    )
    config = load_stack_config(project, "test")
    assert config.values["ack-inference:tier"] == "production"
    assert json.loads(config.values["ack-inference:tags"]) == {"team": "ml"}


def test_overrides_replace_and_remove_project_keys(tmp_path):
    project = write_project(tmp_path, "config:\n  ack-inference:tier: production\n  ack-inference:tags: {a: b}\n")
    config = load_stack_config(project, "test").with_overrides({"tier": None, "models": [{"name": "x"}]}, {"hfToken"})
    assert "ack-inference:tier" not in config.values
    assert json.loads(config.values["ack-inference:models"]) == [{"name": "x"}]
    assert "ack-inference:hfToken" in config.secret_keys


def test_missing_stack_file_names_the_stacks_that_exist(tmp_path):
    project = write_project(tmp_path, "config: {}\n")
    with pytest.raises(StackFileError, match=r"no stack file Pulumi\.nope\.yaml \(stacks with a file: test\)"):
        load_stack_config(project, "nope")


def test_invalid_yaml_is_a_stack_file_error(tmp_path):
    project = write_project(tmp_path, "config: [unclosed\n")
    with pytest.raises(StackFileError, match=r"Pulumi\.test\.yaml: not valid YAML"):
        load_stack_config(project, "test")


def test_config_must_be_a_mapping(tmp_path):
    project = write_project(tmp_path, "config:\n  - a\n")
    with pytest.raises(StackFileError, match="`config` must be a mapping"):
        load_stack_config(project, "test")


def test_every_committed_stack_file_is_found():
    project_dir = Path(__file__).resolve().parents[1]
    stacks = available_stacks(project_dir)
    assert {"dev", "prod"} <= set(stacks)
    for stack in stacks:
        assert load_stack_config(project_dir, stack).project == "ack-inference"
