import asyncio
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Upstream CRDs and vLLM catalogues, vendored unmodified with their provenance (schemas/PROVENANCE.md).
SCHEMAS_DIR = PROJECT_DIR / "schemas"
CRDS_DIR = SCHEMAS_DIR / "crds"
VLLM_DIR = SCHEMAS_DIR / "vllm"


@pytest.fixture(autouse=True)
def fresh_event_loop():
    """A new event loop per test so that pending tasks never resolve against another test's mocks."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)
