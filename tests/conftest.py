"""Shared fixtures: real redis-server processes on free ports (never 6379), the test plants."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.model import Plant
from twin.store import TwinStore

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
MINI_PLANT = DATA / "mini-plant.yaml"
DEMO_PLANT = ROOT / "configs" / "demo-plant.yaml"

# Offscreen rendering for any test that imports pyvista (must be set before vtk is imported).
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One real redis-server for the test session."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """A clean database on the session's server (flushed before each test)."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def mini_plant() -> Plant:
    """The tiny test plant."""
    return load_plant(MINI_PLANT)


@pytest.fixture(scope="module")
def demo() -> Plant:
    """The demo plant (two flow lines and a block of specialised cells), loaded once per module."""
    return load_plant(DEMO_PLANT)


@pytest.fixture
def store(redis_url: str, mini_plant: Plant) -> Iterator[TwinStore]:
    """A store with the mini plant loaded."""
    s = TwinStore.from_url(redis_url)
    s.load_plant(mini_plant)
    yield s
    s.client.close()
