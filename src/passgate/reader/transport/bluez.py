"""MotionSense on a real Bluetooth LE radio: a GATT service on BlueZ through dbus-fast.

UNPROVEN ON HARDWARE: written against BlueZ's documented D-Bus API (GattManager1,
GattService1, GattCharacteristic1, LEAdvertisingManager1) and dbus-fast 4+, never run
against a radio or a phone. Install with ``pip install 'passgate[ble]'``; nothing in the
test suite imports this module. The logic worth testing (fragmenting messages to the
ATT MTU, waiting for the app's writes, noticing it left) is ``ble.GattStream``, tested
with fakes.

The reader advertises the Passgate MotionSense service. The app connects, subscribes
to the reader-to-app characteristic (notifications) and writes to the app-to-reader
characteristic; the bytes are ``proto.motionsense`` messages. When the motion sensor
fires (``motion`` returns) while an app is subscribed, the agent runs one exchange.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from dbus_fast import BusType, Variant  # type: ignore[import-not-found,unused-ignore]
from dbus_fast.aio import MessageBus  # type: ignore[import-not-found,unused-ignore]
from dbus_fast.annotations import DBusSignature  # type: ignore[import-not-found,unused-ignore]
from dbus_fast.service import (  # type: ignore[import-not-found,unused-ignore]
    PropertyAccess,
    ServiceInterface,
    dbus_method,
    dbus_property,
)

from passgate.reader.agent import ReaderAgent
from passgate.reader.transport.ble import FramedLink, GattStream

log = logging.getLogger(__name__)

# Passgate's own UUIDs (random, version 4): not assigned by the Bluetooth SIG or Aliro.
SERVICE_UUID = "7a1c0001-3f0e-4d8b-9a52-5b9d0c6e1f40"
TO_APP_UUID = "7a1c0002-3f0e-4d8b-9a52-5b9d0c6e1f40"
FROM_APP_UUID = "7a1c0003-3f0e-4d8b-9a52-5b9d0c6e1f40"
ROOT = "/org/passgate/motionsense"
SERVICE_PATH = f"{ROOT}/service0"

Bytes = Annotated[bytes, DBusSignature("ay")]
Options = Annotated[dict[str, Any], DBusSignature("a{sv}")]
Str = Annotated[str, DBusSignature("s")]
Path_ = Annotated[str, DBusSignature("o")]
Strs = Annotated[list[str], DBusSignature("as")]
Bool = Annotated[bool, DBusSignature("b")]
Nothing = Annotated[None, DBusSignature("")]  # a method that answers nothing


class _Service(ServiceInterface):  # type: ignore[misc,unused-ignore]
    def __init__(self) -> None:
        super().__init__("org.bluez.GattService1")

    @dbus_property(PropertyAccess.READ)  # type: ignore[untyped-decorator,unused-ignore]
    def UUID(self) -> Str:  # D-Bus names its members in PascalCase
        return SERVICE_UUID

    @dbus_property(PropertyAccess.READ)  # type: ignore[untyped-decorator,unused-ignore]
    def Primary(self) -> Bool:
        return True


class _Characteristic(ServiceInterface):  # type: ignore[misc,unused-ignore]
    def __init__(self, uuid: str, flags: list[str], stream: GattStream) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._uuid = uuid
        self._flags = flags
        self._stream = stream

    def notify(self, value: bytes) -> None:
        self.emit_properties_changed({"Value": value}, [])

    @dbus_method()  # type: ignore[untyped-decorator,unused-ignore]
    def ReadValue(self, options: Options) -> Bytes:
        return b""

    @dbus_method()  # type: ignore[untyped-decorator,unused-ignore]
    def WriteValue(self, value: Bytes, options: Options) -> Nothing:
        self._stream.written(bytes(value))

    @dbus_method()  # type: ignore[untyped-decorator,unused-ignore]
    def StartNotify(self) -> Nothing:
        self._stream.reset()
        self._stream.subscribe()

    @dbus_method()  # type: ignore[untyped-decorator,unused-ignore]
    def StopNotify(self) -> Nothing:
        self._stream.unsubscribed()

    @dbus_property(PropertyAccess.READ)  # type: ignore[untyped-decorator,unused-ignore]
    def UUID(self) -> Str:
        return self._uuid

    @dbus_property(PropertyAccess.READ)  # type: ignore[untyped-decorator,unused-ignore]
    def Service(self) -> Path_:
        return SERVICE_PATH

    @dbus_property(PropertyAccess.READ)  # type: ignore[untyped-decorator,unused-ignore]
    def Flags(self) -> Strs:
        return self._flags


class _Advertisement(ServiceInterface):  # type: ignore[misc,unused-ignore]
    def __init__(self) -> None:
        super().__init__("org.bluez.LEAdvertisement1")

    @dbus_method()  # type: ignore[untyped-decorator,unused-ignore]
    def Release(self) -> Nothing:
        log.info("BlueZ released the MotionSense advertisement")

    @dbus_property(PropertyAccess.READ)  # type: ignore[untyped-decorator,unused-ignore]
    def Type(self) -> Str:
        return "peripheral"

    @dbus_property(PropertyAccess.READ)  # type: ignore[untyped-decorator,unused-ignore]
    def ServiceUUIDs(self) -> Strs:
        return [SERVICE_UUID]

    @dbus_property(PropertyAccess.READ)  # type: ignore[untyped-decorator,unused-ignore]
    def LocalName(self) -> Str:
        return "Passgate"


def gpio_motion(path: str, poll_s: float = 0.05) -> Callable[[], None]:
    """A motion sensor on a sysfs GPIO value file: returns on each rising edge."""
    value = Path(path)

    def wait() -> None:
        last = value.read_text().strip()
        while True:
            time.sleep(poll_s)
            now = value.read_text().strip()
            if now == "1" and last != "1":
                return
            last = now

    return wait


async def serve(
    agent: ReaderAgent, motion: Callable[[], None], *, adapter: str = "hci0", mtu: int = 185
) -> None:
    """Advertise, serve the GATT link and run one exchange per motion while subscribed."""
    bus: Any = await MessageBus(bus_type=BusType.SYSTEM).connect()
    loop = asyncio.get_running_loop()
    holder: list[_Characteristic] = []

    def notify(chunk: bytes) -> None:  # from the agent's worker thread
        loop.call_soon_threadsafe(holder[0].notify, chunk)

    stream = GattStream(notify, mtu=mtu)
    to_app = _Characteristic(TO_APP_UUID, ["notify"], stream)
    holder.append(to_app)
    from_app = _Characteristic(FROM_APP_UUID, ["write", "write-without-response"], stream)
    bus.export(SERVICE_PATH, _Service())
    bus.export(f"{SERVICE_PATH}/char0", to_app)
    bus.export(f"{SERVICE_PATH}/char1", from_app)
    bus.export(f"{ROOT}/advert0", _Advertisement())
    hci = f"/org/bluez/{adapter}"
    bluez = bus.get_proxy_object("org.bluez", hci, await bus.introspect("org.bluez", hci))
    await bluez.get_interface("org.bluez.GattManager1").call_register_application(ROOT, {})
    advertising = bluez.get_interface("org.bluez.LEAdvertisingManager1")
    await advertising.call_register_advertisement(f"{ROOT}/advert0", {})
    log.info("MotionSense advertising on %s (%s)", adapter, Variant("s", SERVICE_UUID).value)

    def exchanges() -> None:
        while True:
            motion()
            if not stream.subscribed:
                continue  # motion without a phone on the link: nothing to do
            stream.reset()
            agent.ble_transaction(FramedLink(stream))

    await loop.run_in_executor(None, exchanges)
