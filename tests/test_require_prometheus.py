"""`scripts/require-prometheus` (run by `make test`): silent when the tools are there, one exact command when it
cannot install them itself."""

import subprocess
from pathlib import Path

from tests.conftest import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "require-prometheus"


def fake_bin(folder: Path, **commands: str) -> Path:
    """A PATH of stand-in commands only: each prints or does what the test needs."""
    folder.mkdir()
    for name, body in commands.items():
        path = folder / name.replace("_", "-")
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return folder


def run(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT)], env={"PATH": str(path)}, capture_output=True, text=True, check=False)


def test_nothing_happens_when_promtool_and_prometheus_are_there(tmp_path):
    path = fake_bin(tmp_path / "bin", promtool="exit 0", prometheus="exit 0", apt_get="echo called >&2; exit 1")
    result = run(path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_without_root_or_sudo_it_names_the_one_command_to_run(tmp_path):
    path = fake_bin(tmp_path / "bin", id="echo 1000", apt_get="echo called >&2; exit 1", sudo="exit 1")
    result = run(path)
    assert result.returncode == 1
    assert result.stderr == (
        "promtool is missing: run 'sudo apt-get update && sudo apt-get install -y -qq --no-install-recommends "
        "prometheus', then run make again.\n"
    )


def test_without_apt_get_it_says_what_to_install(tmp_path):
    result = run(fake_bin(tmp_path / "bin", id="echo 1000"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "install Prometheus 2.x" in result.stderr
