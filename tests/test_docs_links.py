"""The README and the docs pages link only to files that exist and to headings those pages have, and stay small:
the README (the front door) under 20 KB, every docs page under 30 KB."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

README = PROJECT_DIR / "README.md"
PAGES = [README, *sorted((PROJECT_DIR / "docs").glob("*.md"))]
README_MAX_BYTES = 20_000
PAGE_MAX_BYTES = 30_000

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped except `-` and `_`, spaces to `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated heading gets `-1`, `-2`, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose_lines(text):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    """Targets of the inline links and images outside code, external ones left out."""
    targets = []
    for line in prose_lines(text):
        for match in _LINK.finditer(_CODE_SPAN.sub("``", line)):
            target = match.group(1)
            if not _EXTERNAL.match(target):
                targets.append(target)
    return targets


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in links(page.read_text()):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            problems.append(f"{target}: no file {path}")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination.read_text()):
            problems.append(f"{target}: {destination.name} has no heading #{anchor}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(PROJECT_DIR).as_posix())
def test_every_relative_link_resolves(page: Path):
    assert not broken_links(page)


def test_the_readme_is_a_front_door():
    assert README.stat().st_size < README_MAX_BYTES


@pytest.mark.parametrize("page", PAGES[1:], ids=lambda page: page.name)
def test_every_docs_page_stays_readable(page: Path):
    assert page.stat().st_size < PAGE_MAX_BYTES


def test_slugs_follow_github():
    assert slug("Mode 1: new cluster with a GPU node pool (default, `dev`)") == (
        "mode-1-new-cluster-with-a-gpu-node-pool-default-dev"
    )
    assert (
        slug("Compatibility guardrails (`stacks/compatibility.py`)") == "compatibility-guardrails-stackscompatibilitypy"
    )
    assert slug("5. From `v1alpha2` to `v1` inference APIs without downtime") == (
        "5-from-v1alpha2-to-v1-inference-apis-without-downtime"
    )
    assert slug("The gateway row (8080 versus 8081): what it assumes") == (
        "the-gateway-row-8080-versus-8081-what-it-assumes"
    )
    assert slug("The dev stack's resource graph") == "the-dev-stacks-resource-graph"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_a_broken_link_or_anchor_is_found(tmp_path: Path):
    (tmp_path / "other.md").write_text("# Other\n\n## Known part\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#known-part) [ok](#page) [`code`](other.md) [web](https://example.com/x)\n"
        "[gone](missing.md) [bad](other.md#unknown) [self](#nowhere)\n\n```\n[in code](missing-too.md)\n```\n"
        "`[in a code span](missing-three.md)`\n"
    )
    assert broken_links(page) == [
        "missing.md: no file missing.md",
        "other.md#unknown: other.md has no heading #unknown",
        "#nowhere: page.md has no heading #nowhere",
    ]
