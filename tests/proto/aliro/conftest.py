"""Fixtures for the Aliro tests (helpers live in aliro_support)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tests.proto.aliro.aliro_support import GROUP, INSTANCE, Cache, fixed_key

from passgate.proto.aliro import DeviceApplet, ReaderIdentity


@pytest.fixture
def identity() -> ReaderIdentity:
    return ReaderIdentity(GROUP, INSTANCE, fixed_key(0xA11CE))


@pytest.fixture
def device_key() -> ec.EllipticCurvePrivateKey:
    return fixed_key(0xD0D0)


@pytest.fixture
def applet(device_key: ec.EllipticCurvePrivateKey) -> DeviceApplet:
    return DeviceApplet(device_key, persistent_keys={})


@pytest.fixture
def cache(applet: DeviceApplet) -> Cache:
    c = Cache()
    c.add(applet.public_key)
    return c
