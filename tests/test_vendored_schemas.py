"""The vendored upstream files are exactly the ones PROVENANCE.md lists, byte for byte."""

import hashlib
import re

from tests.conftest import SCHEMAS_DIR

PROVENANCE = SCHEMAS_DIR / "PROVENANCE.md"
_ROW = re.compile(
    r"^\| (?P<file>[^ |]+) \| (?P<project>[^|]+) \| (?P<release>[^ |]+) \| (?P<path>[^|]+)"
    r" \| (?P<license>[^ |]+) \| (?P<sha256>[0-9a-f]{64}) \|$"
)


def provenance_rows() -> dict[str, dict[str, str]]:
    rows = {}
    for line in PROVENANCE.read_text().splitlines():
        if match := _ROW.match(line):
            assert match["file"] not in rows, f"{match['file']} listed twice"
            rows[match["file"]] = match.groupdict()
    return rows


def vendored_files() -> set[str]:
    return {p.relative_to(SCHEMAS_DIR).as_posix() for p in SCHEMAS_DIR.rglob("*") if p.is_file() and p != PROVENANCE}


def test_every_vendored_file_is_listed_once_and_every_listed_file_is_there():
    assert vendored_files() == set(provenance_rows())


def test_every_vendored_file_has_the_hash_its_provenance_records():
    changed = [
        name
        for name, row in provenance_rows().items()
        if hashlib.sha256((SCHEMAS_DIR / name).read_bytes()).hexdigest() != row["sha256"]
    ]
    assert changed == []


def test_every_row_names_an_upstream_release_path_and_license():
    for name, row in provenance_rows().items():
        assert re.fullmatch(r"v\d+\.\d+\.\d+(\.post\d+)?", row["release"]), name
        assert row["release"] in name, f"{name}: the folder or file name carries its release"
        assert "/" in row["project"] and row["license"] == "Apache-2.0", name
        if name.startswith("crds/"):
            assert row["path"].strip().endswith(name.rsplit("/", 1)[1]), name
