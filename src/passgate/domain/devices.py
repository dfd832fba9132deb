"""Names people know for the devices that hold a pass (Apple's model identifiers)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

APPLE_MODEL_NAMES: dict[str, str] = {
    "iPhone14,2": "iPhone 13 Pro",
    "iPhone14,3": "iPhone 13 Pro Max",
    "iPhone14,5": "iPhone 13",
    "iPhone14,7": "iPhone 14",
    "iPhone14,8": "iPhone 14 Plus",
    "iPhone15,2": "iPhone 14 Pro",
    "iPhone15,3": "iPhone 14 Pro Max",
    "iPhone15,4": "iPhone 15",
    "iPhone15,5": "iPhone 15 Plus",
    "iPhone16,1": "iPhone 15 Pro",
    "iPhone16,2": "iPhone 15 Pro Max",
    "iPhone17,1": "iPhone 16 Pro",
    "iPhone17,2": "iPhone 16 Pro Max",
    "iPhone17,3": "iPhone 16",
    "iPhone17,4": "iPhone 16 Plus",
    "Watch6,14": "Apple Watch Series 8",
    "Watch6,18": "Apple Watch Ultra",
    "Watch7,1": "Apple Watch Series 9",
    "Watch7,3": "Apple Watch Series 9",
    "Watch7,5": "Apple Watch Ultra 2",
}


class Device(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def device_id(self) -> str: ...
    @property
    def added_at(self) -> datetime: ...


def model_name(model: str, kind: str) -> str:
    """``iPhone16,1`` -> ``iPhone 15 Pro``; an unknown id keeps the id after the kind."""
    known = APPLE_MODEL_NAMES.get(model)
    if known is not None:
        return known
    family = "Apple Watch" if kind == "watch" else "iPhone"
    return family if not model or model == family else f"{family} ({model})"


def device_name(device: Device) -> str:
    """A name that tells two devices of one model apart: the model and the end of its id."""
    tail = device.device_id[-4:].upper()
    return (
        f"{model_name(device.model, device.kind)} ···{tail}"
        if tail
        else model_name(device.model, device.kind)
    )
