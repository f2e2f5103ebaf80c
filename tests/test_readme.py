"""The README stays true: its config reference matches the models, its set-up commands are CI's."""

import re

from stacks.config_reference import END, START, embed, iter_keys
from tests.conftest import PROJECT_DIR

README = (PROJECT_DIR / "README.md").read_text()
SETUP_COMMANDS = ["make test", "make plan STACK=dev"]


def test_config_reference_matches_the_settings_models():
    assert START in README and END in README
    assert embed(README) == README, "run `python -m stacks.config_reference --write`"


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
