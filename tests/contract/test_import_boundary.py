"""The server shares only the wire contract with the desks: importing every server module, in a
fresh interpreter, loads no desk code, no reader driver and no hardware or chip-trust library."""

from __future__ import annotations

import json
import subprocess
import sys

# What a server process must never load: the desk side and what only the desk needs.
FORBIDDEN = ("edge", "app", "reader_drivers", "simulators", "smartcard", "cv2", "pyzbar", "zxingcpp",
             "numpy", "evdev", "serial", "asn1crypto", "cryptography")

_PROBE = """
import importlib, json, pkgutil, sys
import server
names = []
for info in pkgutil.walk_packages(server.__path__, "server."):
    if info.name == "server.migrations.env":  # Alembic's script: runs a migration when imported
        continue
    if info.name == "server.ca":  # the device CA needs cryptography (issue 15), loaded by its commands only
        continue
    importlib.import_module(info.name)
    names.append(info.name)
print(json.dumps({"imported": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _probe() -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True, timeout=120)
    result: dict[str, list[str]] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_importing_every_server_module_loads_no_desk_driver_or_hardware_package():
    result = _probe()
    assert {"server.app", "server.ingest", "server.store.writer", "server.routes.usage", "server.cli"} <= set(
        result["imported"]
    )
    loaded = set(result["loaded"])
    assert "contract" in loaded and "fastapi" in loaded  # the probe really imported the server
    assert loaded.isdisjoint(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_the_contract_alone_loads_pydantic_but_no_paho_until_its_mqtt_module():
    probe = ("import json, sys, contract.events, contract.topics, contract.levels, contract.settings\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert "pydantic" in loaded
    assert loaded.isdisjoint({"paho", "edge", "fastapi", "sqlalchemy", *FORBIDDEN}), loaded
