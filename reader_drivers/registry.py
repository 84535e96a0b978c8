"""The QR source registry: from a settings entry's ``kind`` to the driver that opens it.

The desk agent's settings list QR sources as tagged sections (``kind = "camera"``,
``"serial"``, ``"hid"``); each kind is registered here once, with the settings class it
takes and a factory. A new driver is one ``register`` call, not a branch in the agent.
Factories import their hardware library (cv2, pyserial, evdev) only when called, so
loading the registry loads none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from edge.config import CameraSource, HidSource, SerialSource
from reader_drivers.qr.source import QrSource


class SourceSpec(Protocol):
    """What the registry needs of a source's settings: its tag and its device."""

    @property
    def kind(self) -> str: ...

    @property
    def device(self) -> str: ...


class UnknownSourceKind(LookupError):
    """No driver is registered for a settings entry's kind (a configuration error)."""


S = TypeVar("S", bound=SourceSpec)
_Factory = Callable[[SourceSpec], QrSource]
_FACTORIES: dict[str, _Factory] = {}


def register(kind: str, spec_type: type[S], factory: Callable[[S], QrSource]) -> None:
    """Register the driver for one kind; its factory receives the settings narrowed to ``spec_type``."""

    def build(spec: SourceSpec) -> QrSource:
        if not isinstance(spec, spec_type):
            raise TypeError(f"{kind!r} sources take {spec_type.__name__} settings, not {type(spec).__name__}")
        return factory(spec)

    _FACTORIES[kind] = build


def kinds() -> list[str]:
    """The registered kinds, sorted."""
    return sorted(_FACTORIES)


def open_source(spec: SourceSpec) -> QrSource:
    """Open the source a settings entry describes (the device may raise OSError)."""
    try:
        factory = _FACTORIES[spec.kind]
    except KeyError:
        raise UnknownSourceKind(f"no QR driver for kind {spec.kind!r} (known: {', '.join(kinds())})") from None
    return factory(spec)


def _camera(spec: CameraSource) -> QrSource:
    from reader_drivers.qr.camera import CameraSource as Camera

    return Camera(spec.device, width=spec.width, height=spec.height, fps=spec.fps,
                  loop=spec.loop, still_gate=spec.still_gate)


def _serial(spec: SerialSource) -> QrSource:
    from reader_drivers.qr.serial_scanner import SerialScanner

    return SerialScanner(spec.device, baudrate=spec.baudrate, terminator=spec.terminator.encode())


def _hid(spec: HidSource) -> QrSource:
    from reader_drivers.qr.hid_scanner import HidScanner

    return HidScanner(spec.device)


register("camera", CameraSource, _camera)
register("serial", SerialSource, _serial)
register("hid", HidSource, _hid)
