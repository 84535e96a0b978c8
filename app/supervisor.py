"""The supervisor: watches every component, restarts a dead one, feeds the systemd watchdog.

Twice a second it reads each component's state. A *failed* component (its thread died)
is started again, at most ``max_restarts`` times within ``restart_window`` seconds;
one that keeps dying, or one *stalled* (its thread alive but silent) for longer than
``stall_grace`` — a Python thread cannot be killed — is fatal: ``on_fatal`` is called
and the process is meant to exit non-zero, so systemd starts a fresh one. The watchdog
is fed only while every component is healthy, so a supervisor that dies or hangs also
gets the process restarted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence

from app.components import HEALTHY, Component, ComponentState
from edge.sdnotify import notify, watchdog_interval

log = logging.getLogger(__name__)


class Supervisor:
    """Keeps the components running, or says the process must go."""

    def __init__(
        self,
        components: Callable[[], Sequence[Component]],
        *,
        on_fatal: Callable[[str], None],
        max_restarts: int = 3,
        restart_window: float = 300.0,
        stall_grace: float = 30.0,
        interval: float = 0.5,
    ) -> None:
        self._components = components
        self._on_fatal = on_fatal
        self.max_restarts = max_restarts
        self.restart_window = restart_window
        self.stall_grace = stall_grace
        self.interval = interval
        self.restarts: dict[str, int] = defaultdict(int)
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._stalled_since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fatal: str | None = None
        self.watchdog_pings = 0

    @property
    def name(self) -> str:
        return "supervisor"

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def state(self) -> ComponentState:
        if self._thread is None:
            return ComponentState.STOPPED
        return ComponentState.RUNNING if self._thread.is_alive() else ComponentState.FAILED

    def _run(self) -> None:
        ping = watchdog_interval()
        last_ping = 0.0
        while not self._stop.wait(self.interval):
            healthy = self.check()
            if self.fatal is not None:
                return
            now = time.monotonic()
            if ping and healthy and now - last_ping >= ping / 2:
                notify("WATCHDOG=1")
                self.watchdog_pings += 1
                last_ping = now

    def check(self) -> bool:
        """One round: restart what died; True when every component is healthy now."""
        healthy = True
        now = time.monotonic()
        for component in self._components():
            state = component.state()
            if state in HEALTHY:
                self._stalled_since.pop(component.name, None)
                continue
            if state is ComponentState.STOPPED:
                continue  # not started (yet), or stopped on purpose
            healthy = False
            if state is ComponentState.STALLED:
                since = self._stalled_since.setdefault(component.name, now)
                if now - since > self.stall_grace:
                    self._give_up(f"{component.name} is stuck")
                continue
            self._restart(component, now)
        return healthy and self.fatal is None

    def _restart(self, component: Component, now: float) -> None:
        recent = self._recent[component.name]
        while recent and now - recent[0] > self.restart_window:
            recent.popleft()
        if len(recent) >= self.max_restarts:
            self._give_up(f"{component.name} failed {len(recent) + 1} times in {self.restart_window:.0f} s")
            return
        recent.append(now)
        self.restarts[component.name] += 1
        log.error("component %s died; starting it again (%d)", component.name, self.restarts[component.name])
        try:
            component.start()
        except Exception:  # it failed to start: the next round sees it failed again
            log.exception("restarting %s failed", component.name)

    def _give_up(self, reason: str) -> None:
        if self.fatal is None:
            self.fatal = reason
            log.critical("giving up: %s; the process exits so that systemd starts it again", reason)
            self._on_fatal(reason)
