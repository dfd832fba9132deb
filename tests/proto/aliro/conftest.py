"""Fixtures for the Aliro tests (helpers live in aliro_support)."""

from __future__ import annotations

import pytest
from tests.proto.aliro.aliro_support import Cache, vector_device, vector_identity

from passgate.proto.aliro import DeviceApplet, ReaderIdentity


@pytest.fixture
def identity() -> ReaderIdentity:
    return vector_identity()


@pytest.fixture
def applet() -> DeviceApplet:
    return vector_device()


@pytest.fixture
def cache(applet: DeviceApplet) -> Cache:
    c = Cache()
    c.add(applet.public_key)
    return c
