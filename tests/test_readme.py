"""The docs stay true: their generated blocks match the code, the README's set-up commands are CI's."""

import re

from stacks.errors import PROJECT
from tests.conftest import PROJECT_DIR
from tests.harness import plan_stack
from tooling.config_reference import iter_keys, markdown
from tooling.docs import (
    CONFIG_BLOCK,
    PAGES,
    WORKLOAD_CONFIG_BLOCK,
    WORKLOAD_KEYS,
    config_tables,
    current_texts,
    markers,
    render,
)

README = (PROJECT_DIR / "README.md").read_text()
SETUP_COMMANDS = ["make test", "make plan STACK=dev"]


def test_generated_blocks_match_the_settings_models_and_the_dev_plan():
    texts = current_texts()
    for block, page in PAGES.items():
        start, end = markers(block)
        assert texts[page].count(start) == 1 and texts[page].count(end) == 1, (block, page.name)
    assert render(texts, plan_stack("dev")) == texts, "run `python -m tooling.docs --write`"


def test_the_readme_holds_no_generated_block():
    assert "<!--" not in README


def test_the_two_reference_pages_hold_every_key_once():
    header, separator, *rows = markdown().splitlines()
    tables = config_tables()
    split_rows = [table.splitlines()[2:] for table in tables.values()]
    assert all(table.splitlines()[:2] == [header, separator] for table in tables.values())
    assert sorted(row for rows_of_page in split_rows for row in rows_of_page) == sorted(rows)
    workload_rows = tables[WORKLOAD_CONFIG_BLOCK].splitlines()[2:]
    assert workload_rows and all(
        row.startswith(tuple(f"| `{PROJECT}:{key}" for key in WORKLOAD_KEYS)) for row in workload_rows
    )
    assert tables[CONFIG_BLOCK].splitlines()[2:]


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
