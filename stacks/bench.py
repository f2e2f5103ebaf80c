"""Times the offline plan against the bare import of the SDK modules the program uses (`make bench`).

Targets: the plan of `dev` costs at most 3x that import floor; each extra model adds under 50 ms.
Every measurement is a fresh interpreter (median of several runs), so imports are paid the same way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from stacks.config_loader import parse_settings
from stacks.offline.checkout import copy_program
from stacks.offline.run import PROJECT_DIR
from stacks.offline.stack_files import load_stack_config
from stacks.settings.inference import MAX_MODELS

DEV_RATIO_TARGET = 3.0
PER_MODEL_TARGET_MS = 50.0

_LIST_SDK_MODULES = """
import json, sys
from stacks.offline.run import simulate
from stacks.offline.stack_files import load_stack_config
from pathlib import Path
simulate(load_stack_config(Path('.'), 'dev'))
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_alicloud', 'pulumi_kubernetes')
                        and not m.startswith(('pulumi.runtime', 'pulumi._')))))
"""


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def median_seconds(command: list[str], cwd: Path, runs: int) -> float:
    return statistics.median(_timed(command, cwd) for _ in range(runs))


def sdk_modules(checkout: Path) -> list[str]:
    output = subprocess.run(
        [sys.executable, "-c", _LIST_SDK_MODULES], cwd=checkout, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def write_fan_out_stack(checkout: Path, models: int) -> str:
    """A copy of `dev` with the largest model fan-out the config allows."""
    document = yaml.safe_load((checkout / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    config["ack-inference:models"] = [{"name": f"bench-model-{index:02d}"} for index in range(models)]
    # One GPU per model server: the GPU pool must be allowed to grow to hold them all.
    pools = config.setdefault("ack-inference:nodePools", {})
    pools.setdefault("gpu", {})["maxSize"] = models
    name = f"bench{models}"
    (checkout / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document))
    return name


def model_count(stack: str) -> int:
    return len(parse_settings(*load_stack_config(PROJECT_DIR, stack).project_values()).models)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        checkout = copy_program(Path(folder))
        fan_out = write_fan_out_stack(checkout, MAX_MODELS)
        modules = sdk_modules(checkout)
        floor = median_seconds([sys.executable, "-c", "import " + ", ".join(modules)], checkout, args.runs)

        def plan(stack: str) -> float:
            command = [sys.executable, "-m", "stacks.plan", "--stack", stack, "--out", f"build/{stack}"]
            return median_seconds(command, checkout, args.runs)

        dev, wide = plan("dev"), plan(fan_out)
    per_model_ms = (wide - dev) / (MAX_MODELS - model_count("dev")) * 1000
    print(f"SDK modules imported by the program ({len(modules)}): import floor {floor * 1000:.0f} ms")
    print(f"plan dev:          {dev * 1000:6.0f} ms  = {dev / floor:.2f}x the floor (target <= {DEV_RATIO_TARGET}x)")
    print(f"plan {MAX_MODELS} models:    {wide * 1000:6.0f} ms  = {wide / floor:.2f}x the floor")
    print(f"each extra model:  {per_model_ms:6.1f} ms  (target < {PER_MODEL_TARGET_MS:.0f} ms)")
    met = dev / floor <= DEV_RATIO_TARGET and per_model_ms < PER_MODEL_TARGET_MS
    print("targets met" if met else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
