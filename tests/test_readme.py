"""The README stays true: its generated blocks match the code, its set-up commands are CI's."""

import re

from tests.conftest import PROJECT_DIR
from tests.harness import plan_stack
from tooling.config_reference import iter_keys
from tooling.readme import CONFIG_BLOCK, GRAPH_BLOCK, markers, render

README = (PROJECT_DIR / "README.md").read_text()
SETUP_COMMANDS = ["make test", "make plan STACK=dev"]


def test_generated_blocks_match_the_settings_models_and_the_dev_plan():
    for block in (CONFIG_BLOCK, GRAPH_BLOCK):
        start, end = markers(block)
        assert README.count(start) == 1 and README.count(end) == 1, block
    assert render(README, plan_stack("dev")) == README, "run `python -m tooling.readme --write`"


def test_every_key_has_a_meaning():
    undocumented = [doc.path for doc in iter_keys() if not doc.description.strip()]
    assert not undocumented


def test_the_two_setup_commands_are_the_ones_ci_runs():
    ci_commands = [line.strip() for line in (PROJECT_DIR / ".ci/run").read_text().splitlines()]
    setup_block = re.search(r"## Set-up: two commands.*?```sh\n(.*?)```", README, re.S)
    assert setup_block is not None
    readme_commands = [line.split("#")[0].strip() for line in setup_block.group(1).splitlines() if line.strip()]
    assert readme_commands == SETUP_COMMANDS
    assert [command for command in ci_commands if command in SETUP_COMMANDS] == SETUP_COMMANDS
