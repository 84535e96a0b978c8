"""Real programs of this project as subprocesses, for end-to-end and fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from simulators.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
READ_TOKEN = "read-token-0123456789"


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll until ``predicate`` is truthy; the timeout is a generous bound, never a speed assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def write_agent_config(workdir: Path, broker_url: str, *, mqtt: str = "", outbox: str = "") -> Path:
    """An ``edge.toml`` for ``cccd-edge run`` as desk 34001/desk-1 (no chip, no screen), with its own
    pseudonym key and state in ``workdir``; ``mqtt`` and ``outbox`` are extra lines of those sections."""
    from edge.settings_base import write_secret_file

    key = workdir / "pseudonym.key"
    if not key.exists():
        write_secret_file(key, os.urandom(32))
    config = workdir / "edge.toml"
    config.write_text(
        f'facility_code = "34001"\nreader_id = "desk-1"\npseudonym_key_file = "{key}"\n'
        f'state_dir = "{workdir / "state"}"\n'
        f'[mqtt]\nurl = "{broker_url}"\n{mqtt}\n[outbox]\n{outbox}\n'
        '[chip]\nenabled = false\n[screen]\nenabled = false\n'
    )
    return config


class ProgramProcess:
    """A console program of this project, started with ``python -m``, killable by signal."""

    def __init__(self, module: str, args: list[str], log: Path) -> None:
        self.module, self.args, self.log = module, args, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **popen: Any) -> ProgramProcess:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args], cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                env=os.environ | {"PYTHONPATH": str(ROOT)}, **popen,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, as a power cut or the OOM killer would leave it."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class ServerProcess(ProgramProcess):
    """``cccd-server serve`` on a free port with its own SQLite database."""

    def __init__(self, workdir: Path, broker_url: str, *, auto_register: bool = True,
                 config_text: str | None = None, port: int | None = None, role: str | None = None) -> None:
        self.port = port or free_port()
        self.db = workdir / "server.sqlite"
        config = workdir / "server.toml"
        config.write_text(config_text or (
            f'database_url = "sqlite:///{self.db}"\n'
            f'[mqtt]\nurl = "{broker_url}"\nclient_id = "test-server"\n'
            f'[api]\nport = {self.port}\nread_tokens = ["{READ_TOKEN}"]\n'
            # simulated readers are not in the registry: the server registers them (tests only)
            + ("[registry]\nauto_register = true\n" if auto_register else "")
        ))
        config.chmod(0o600)  # it holds a token: the server refuses a config others can read
        role_args = ["--role", role] if role else []  # api or ingest: `port` is that process's HTTP port
        super().__init__("server.cli", ["serve", "--config", str(config), *role_args],
                         workdir / (f"server-{role}.log" if role else "server.log"))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **popen: Any) -> ServerProcess:
        super().start(**popen)
        wait_for_port(self.port, 30)
        wait_until(self.subscribed, 30, "the server to subscribe")
        return self

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.base}/api/v1/health", timeout=5).json()

    def mqtt_connected(self) -> bool:
        try:
            return bool(self.health()["mqtt_connected"])
        except httpx.HTTPError:
            return False

    def subscribed(self) -> bool:
        try:
            return bool(self.health().get("mqtt_subscribed"))
        except httpx.HTTPError:
            return False

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base}{path}", params=params, timeout=10,
                             headers={"Authorization": f"Bearer {READ_TOKEN}"})
        response.raise_for_status()
        return response.json()
