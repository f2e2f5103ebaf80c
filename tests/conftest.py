import asyncio
import os
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Upstream data beside the project (CI has it too); override with the environment variables.
CRDS_DIR = Path(os.environ.get("ACK_INFERENCE_CRDS", PROJECT_DIR.parent / "shared" / "crds"))
VLLM_DIR = Path(os.environ.get("ACK_INFERENCE_VLLM", PROJECT_DIR.parent / "shared" / "vllm"))


@pytest.fixture(autouse=True)
def fresh_event_loop():
    """A new event loop per test so that pending tasks never resolve against another test's mocks."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)
