"""Runs the real program (`__main__.py`) under provider mocks and returns what it registered."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import runpy
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack

from stacks.stack_keys import REGION_KEY
from tooling.offline.mocks import PriorStates, ProviderMocks
from tooling.offline.recording import Plan, RecordingMonitor
from tooling.offline.stack_files import StackConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]


def run_main(project_dir: Path = PROJECT_DIR) -> Callable[[], None]:
    """The program exactly as the Python language host starts it."""

    def program() -> None:
        if str(project_dir) not in sys.path:
            sys.path.insert(0, str(project_dir))
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    return program


def simulate(
    config: StackConfig,
    program: Callable[[], None] | None = None,
    preview: bool = False,
    prior: PriorStates | None = None,
) -> Plan:
    """One isolated run; raises what the program raised (a config error, for instance).

    `prior`: the resources' states of an earlier run, which the mocks answer with as the provider would.
    """
    plan, error = try_simulate(config, program, preview, prior)
    if error is not None:
        raise error
    return plan


def try_simulate(
    config: StackConfig,
    program: Callable[[], None] | None = None,
    preview: bool = False,
    prior: PriorStates | None = None,
) -> tuple[Plan, BaseException | None]:
    """One isolated run: a fresh context and event loop, so runs never see each other's state.

    Returns what was registered even when the program failed, with the failure.
    """
    program = program or run_main()
    return contextvars.Context().run(_simulate, config, program, preview, prior)


class _MonitorThreads(ThreadPoolExecutor):
    """The threads the SDK calls the mock monitor on, each with an event loop that is closed with the run.

    The SDK runs every monitor call in the loop's default executor, and its mocks then create an event loop
    for the worker thread (`pulumi.runtime.mocks` -> `sync_await._ensure_event_loop`) that nothing closes: at
    interpreter exit such a loop was finalised after its selector and printed "Exception ignored ...".
    """

    def __init__(self) -> None:
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        super().__init__(thread_name_prefix="mock-monitor", initializer=self._give_thread_a_loop)

    def _give_thread_a_loop(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with self._lock:
            self._loops.append(loop)

    def close(self) -> None:
        self.shutdown(wait=True)
        for loop in self._loops:
            loop.close()


def _simulate(
    config: StackConfig, program: Callable[[], None], preview: bool, prior: PriorStates | None
) -> tuple[Plan, BaseException | None]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    threads = _MonitorThreads()
    loop.set_default_executor(threads)
    monitor = RecordingMonitor(ProviderMocks(prior, config.values.get(REGION_KEY)))
    failure: BaseException | None = None
    try:
        pulumi.runtime.set_mocks(
            monitor.mocks, project=config.project, stack=config.stack, preview=preview, monitor=monitor
        )
        # set_mocks installs a finished root stack; run_in_stack makes the one that collects exports.
        runtime_settings.ROOT.set(None)
        # Without its own set, a run shares the SDK's default set of pending outputs, where a failed earlier
        # run leaves tasks of its closed event loop behind.
        runtime_settings.SETTINGS.outputs = set()
        pulumi.runtime.set_all_config(dict(config.values), sorted(config.secret_keys))
        loop.run_until_complete(run_in_stack(program))
    except Exception as error:  # noqa: BLE001 - handed to the caller with what was registered
        failure = error
    finally:
        _close(loop, failed=failure is not None)
        threads.close()
    plan = Plan(
        project=config.project,
        stack=config.stack,
        resources=sorted(monitor.registrations.values(), key=lambda r: r.urn),
        duplicates=monitor.duplicates,
        states=monitor.states,
    )
    plan.outputs = monitor.outputs.get(plan.stack_urn, {})
    plan.component_outputs = {urn: outputs for urn, outputs in monitor.outputs.items() if urn != plan.stack_urn}
    return plan, failure


def _close(loop: asyncio.AbstractEventLoop, failed: bool) -> None:
    """Cancels what a failed program left pending, so no task outlives its loop.

    A failed run also leaves futures in reference cycles; they are collected here, at a known point, because
    CPython 3.11 aborts an `ast.parse` (an import) that a later garbage collection interrupts with their
    finalizers.
    """
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)
    if failed:
        gc.collect()
