"""Times the offline plan against the import of the SDK names the program uses (`make bench`).

Targets: the plan of `dev` costs at most 1.3x that import floor; each extra model costs at most 30 ms of CPU.

The floor imports exactly the SDK classes and functions that the program's source (`__main__.py`,
`components/`, `stacks/`, `metrics/`, `dashboards/`) names, found by parsing it: `alicloud.cs.ManagedKubernetes` becomes
`from pulumi_alicloud.cs import ManagedKubernetes`, so the SDK's lazy modules really load: what any program
using those names pays, collections at exit included. The plan freezes its heap after imports (`gc.freeze()`),
so it skips those collections; a floor that freezes too is measured as a stricter reference, not a target.

Floor and plans run interleaved (floor, dev, wide, floor, dev, wide, ...), each in a fresh interpreter after
one warm-up round, and what is measured is the child's CPU time (user + system, from `os.wait4`), not wall
time. Ratios and per-model costs are paired within a round; the report gives their median and spread, and
the targets are checked against the medians. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from stacks.config_loader import parse_settings
from stacks.settings.models import MAX_MODELS
from tooling.offline.checkout import copy_program
from tooling.offline.run import PROJECT_DIR
from tooling.offline.stack_files import load_stack_config

DEV_RATIO_TARGET = 1.3
PER_MODEL_TARGET_MS = 30.0
SDK_PACKAGES = ("pulumi", "pulumi_alicloud", "pulumi_kubernetes")
# The program's source: what the offline plan runs (the program itself and the harness around it).
PROGRAM_SOURCES = ("__main__.py", "components", "stacks", "metrics", "dashboards")


# --- The SDK names the program uses ------------------------------------------------------------------------


def _dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None for anything that is not a chain of names."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _is_sdk(module: str, packages: Sequence[str]) -> bool:
    return module.split(".", maxsplit=1)[0] in packages


def sdk_references(source: str, packages: Sequence[str] = SDK_PACKAGES) -> set[str]:
    """Dotted paths of the SDK objects one module's source names, e.g. `pulumi_alicloud.cs.ManagedKubernetes`.

    Follows `import x as y` and `from x import y` aliases, then the longest attribute chain on each alias;
    a chain may run past the SDK object (`pulumi.Output.secret`), which `resolve` trims.
    """
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    references: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                if not _is_sdk(name.name, packages):
                    continue
                if name.asname:
                    aliases[name.asname] = name.name
                else:
                    # `import a.b` binds `a`; the chain `a.b.X` is followed from there.
                    top = name.name.split(".")[0]
                    aliases[top] = top
                    if "." in name.name:
                        references.add(name.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _is_sdk(node.module, packages):
            for name in node.names:
                if name.name == "*":
                    references.add(node.module)
                    continue
                aliases[name.asname or name.name] = f"{node.module}.{name.name}"
    if not aliases:
        return references
    used_aliases: set[str] = set()
    inner: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute | ast.Name) or id(node) in inner:
            continue
        # Mark the inner nodes of this chain, so only the longest chain counts.
        child = node.value if isinstance(node, ast.Attribute) else None
        while isinstance(child, ast.Attribute | ast.Name):
            inner.add(id(child))
            child = child.value if isinstance(child, ast.Attribute) else None
        parts = _dotted(node)
        if parts is None or parts[0] not in aliases:
            continue
        used_aliases.add(parts[0])
        references.add(".".join([aliases[parts[0]], *parts[1:]]))
    # An import whose name is never read still runs.
    references.update(aliases[name] for name in aliases.keys() - used_aliases)
    return references


@dataclass(frozen=True, order=True)
class SdkName:
    """One thing a program imports: `from module import name`, or the module itself when name is empty."""

    module: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.module}.{self.name}" if self.name else self.module


def resolve(reference: str) -> SdkName:
    """The SDK object a dotted path starts with: the longest run of modules, then one attribute.

    Attributes are looked up before submodules: `pulumi_kubernetes.core.v1.Namespace` is the class the package
    exports, not its same-named module, and lazily imported subpackages (`pulumi_alicloud.cs`) are modules.
    """
    parts = reference.split(".")
    module_path = parts[0]
    module = importlib.import_module(module_path)
    for part in parts[1:]:
        try:
            value = getattr(module, part)
        except AttributeError:
            value = importlib.import_module(f"{module_path}.{part}")
        if not isinstance(value, types.ModuleType):
            return SdkName(module_path, part)
        module_path, module = value.__name__, value
    return SdkName(module_path)


def program_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for name in PROGRAM_SOURCES:
        path = root / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else [])
    return files


def program_sdk_names(root: Path = PROJECT_DIR) -> list[SdkName]:
    """Every SDK class, function or module the program's source names, sorted."""
    references: set[str] = set()
    for path in program_files(root):
        references |= sdk_references(path.read_text())
    return sorted({resolve(reference) for reference in references})


def import_floor_script(names: Iterable[SdkName], freeze: bool = True) -> str:
    """Python source that imports exactly `names` and nothing else.

    With `freeze`, it ends with `gc.freeze()`, as the plan does: neither then pays the interpreter's collections
    at exit over what the imports built, a cost no program has to pay.
    """
    by_module: dict[str, list[str]] = {}
    lines = []
    for sdk_name in sorted(set(names)):
        if not sdk_name.name:
            lines.append(f"import {sdk_name.module}")
        else:
            by_module.setdefault(sdk_name.module, []).append(sdk_name.name)
    lines += [f"from {module} import {', '.join(members)}" for module, members in sorted(by_module.items())]
    if freeze:
        lines += ["import gc", "gc.freeze()"]
    return "\n".join(lines) + "\n"


# --- Statistics and the verdict ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    q1: float
    q3: float

    def describe(self, unit: str = "", digits: int = 2) -> str:
        def f(value: float) -> str:
            return f"{value:.{digits}f}{unit}"

        return f"median {f(self.median)}  (IQR {f(self.q1)}-{f(self.q3)}, min-max {f(self.low)}-{f(self.high)})"


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no measurements")
    if len(values) == 1:
        (only,) = values
        return Summary(only, only, only, only, only)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Summary(statistics.median(values), min(values), max(values), q1, q3)


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    if len(numerators) != len(denominators):
        raise ValueError("pairs differ in length")
    return [top / bottom for top, bottom in zip(numerators, denominators, strict=True)]


def per_model_ms(wide: Sequence[float], dev: Sequence[float], extra_models: int) -> list[float]:
    """Per round, what each model beyond dev's costs: (wide - dev) / extra models, in milliseconds."""
    if extra_models <= 0:
        raise ValueError("the wide stack must have more models than dev")
    if len(wide) != len(dev):
        raise ValueError("pairs differ in length")
    return [(w - d) / extra_models * 1000 for w, d in zip(wide, dev, strict=True)]


def missed_targets(
    dev_ratio: float,
    model_ms: float,
    ratio_target: float = DEV_RATIO_TARGET,
    model_target_ms: float = PER_MODEL_TARGET_MS,
) -> list[str]:
    """One line per missed target, measured against target; empty when every target is met."""
    missed = []
    if dev_ratio > ratio_target:
        missed.append(f"dev plan / import floor: {dev_ratio:.2f}x > target {ratio_target:.2f}x")
    if model_ms > model_target_ms:
        missed.append(f"CPU per extra model: {model_ms:.1f} ms > target {model_target_ms:.0f} ms")
    return missed


def exit_status(missed: Sequence[str]) -> int:
    return 1 if missed else 0


# --- Measuring ---------------------------------------------------------------------------------------------


def child_cpu_seconds(command: Sequence[str], cwd: Path) -> float:
    """User + system CPU time of one child process (its own rusage, from wait4)."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace")
            raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{message}")
    return usage.ru_utime + usage.ru_stime


def interleaved(commands: dict[str, Sequence[str]], cwd: Path, rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """CPU seconds of each command, `rounds` times, one of each per round (A B C A B C ...)."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for round_index in range(warmup + rounds):
        for label, command in commands.items():
            seconds = child_cpu_seconds(command, cwd)
            if round_index >= warmup:
                times[label].append(seconds)
    return times


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


def model_count(stack: str, project_dir: Path = PROJECT_DIR) -> int:
    return len(parse_settings(*load_stack_config(project_dir, stack).project_values()).models)


def _ms(seconds: Sequence[float]) -> str:
    return summarize([1000 * value for value in seconds]).describe(" ms", 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="measured rounds (after one warm-up round)")
    args = parser.parse_args(argv)
    names = program_sdk_names()
    with tempfile.TemporaryDirectory() as folder:
        checkout = copy_program(Path(folder))
        fan_out = write_fan_out_stack(checkout, MAX_MODELS)
        dev_models, wide_models = model_count("dev", checkout), model_count(fan_out, checkout)

        def plan(stack: str) -> list[str]:
            return [sys.executable, "-m", "tooling.plan", "--stack", stack, "--out", f"build/{stack}"]

        commands = {
            "floor": [sys.executable, "-c", import_floor_script(names, freeze=False)],
            "dev": plan("dev"),
            "wide": plan(fan_out),
            "frozen floor": [sys.executable, "-c", import_floor_script(names)],
        }
        times = interleaved(commands, checkout, args.rounds)
    floor, dev, wide = times["floor"], times["dev"], times["wide"]
    dev_ratio = summarize(paired_ratios(dev, floor))
    model_cost = summarize(per_model_ms(wide, dev, wide_models - dev_models))
    modules = len({name.module for name in names})
    print(f"Import floor: the {len(names)} SDK names the program uses (from {modules} modules)")
    print(f"{args.rounds} interleaved rounds in fresh interpreters; child CPU time (user + sys):")
    rows = {
        "import floor": floor,
        "plan dev": dev,
        f"plan {wide_models} models": wide,
        "floor + gc.freeze()": times["frozen floor"],
    }
    for label, seconds in rows.items():
        print(f"  {label:<24}{_ms(seconds)}")
    print("Paired within each round:")
    print(f"  {'dev / floor':<24}{dev_ratio.describe('x')}  target <= {DEV_RATIO_TARGET}x")
    print(f"  {f'{wide_models} models / floor':<24}{summarize(paired_ratios(wide, floor)).describe('x')}")
    extra = wide_models - dev_models
    print(f"  {'per extra model':<24}{model_cost.describe(' ms', 1)}  target <= {PER_MODEL_TARGET_MS:.0f} ms")
    print(f"  {'':<24}(plan of {wide_models} models - plan dev) / {extra} more models")
    frozen_ratio = summarize(paired_ratios(dev, times["frozen floor"]))
    print(f"  {'dev / frozen floor':<24}{frozen_ratio.describe('x')}  reference only: a floor that also skips")
    print(f"  {'':<24}the collections at exit")
    missed = missed_targets(dev_ratio.median, model_cost.median)
    for line in missed:
        print(f"MISSED: {line}")
    print("targets NOT met" if missed else "targets met")
    return exit_status(missed)


if __name__ == "__main__":
    sys.exit(main())
