"""What every part of the desk agent is to its controller: a component with start() and stop().

A component owns one job (a QR source, the chip reader, the screen, availability, the
publisher) and, when it runs a thread, says whether it is still doing it: ``state()``
is ``running`` while its thread is alive and has reported progress recently (a thread
stuck in a call for longer than ``stall_seconds`` is ``stalled``), ``finished`` when its
input ended by itself (a video file played once), ``failed`` when its thread died.
The controller feeds the systemd watchdog only while no component is failed or stalled.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum
from typing import Protocol

log = logging.getLogger(__name__)


class ComponentState(StrEnum):
    STOPPED = "stopped"
    RUNNING = "running"
    FINISHED = "finished"  # its input ended (a finite source): not a fault
    STALLED = "stalled"  # alive but silent for longer than it may be
    FAILED = "failed"  # its thread died


HEALTHY = frozenset({ComponentState.RUNNING, ComponentState.FINISHED})


class Component(Protocol):
    """One part of the agent, started and stopped by the controller."""

    @property
    def name(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def state(self) -> ComponentState: ...


class Worker:
    """A component with one thread running :meth:`run`, which calls :meth:`beat` as it goes.

    ``run`` returns when ``self.stopping`` is set (finished) or when its input ends; an
    exception out of it marks the component failed (it is logged, never swallowed).
    """

    def __init__(self, name: str, *, stall_seconds: float = 30.0) -> None:
        self._name = name
        self.stall_seconds = stall_seconds
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = time.monotonic()
        self._outcome: ComponentState | None = None
        self.restarts = 0

    @property
    def name(self) -> str:
        return self._name

    def run(self) -> None:  # pragma: no cover - every worker overrides it
        raise NotImplementedError

    def beat(self) -> None:
        """Report progress: the thread is alive and not stuck."""
        self._last_beat = time.monotonic()

    def start(self) -> None:
        self.stopping.clear()
        self._outcome = None
        self.beat()
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()

    def restart(self) -> None:
        """Start again after a failure (the old thread has ended)."""
        self.restarts += 1
        self.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.on_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def on_stop(self) -> None:
        """Unblock ``run`` (close a device, cancel a wait); called from the stopping thread."""

    def state(self) -> ComponentState:
        if self._thread is None:
            return ComponentState.STOPPED
        if self._outcome is not None:
            return self._outcome
        if not self._thread.is_alive():  # ended without going through _main's bookkeeping
            return ComponentState.FAILED
        if time.monotonic() - self._last_beat > self.stall_seconds:
            return ComponentState.STALLED
        return ComponentState.RUNNING

    def _main(self) -> None:
        try:
            self.run()
        except BaseException:  # SystemExit from a library too: the thread ends, the supervisor restarts it
            log.exception("component %s failed", self._name)
            self._outcome = ComponentState.FAILED
            return
        self._outcome = ComponentState.STOPPED if self.stopping.is_set() else ComponentState.FINISHED
