"""The suite's run-wide rules (a pytest plugin, registered by tests/conftest.py).

- Under CI (the ``CI`` environment variable set, as every CI system does), a skipped test
  fails with its reason: a test that cannot get a service the product depends on (pcscd +
  vpcd, mosquitto, PostgreSQL, Chromium, the test data) is a hidden failure. The only skips
  CI allows are for hardware this machine cannot have, named in ``HARDWARE_SKIPS``.
  Outside CI a skip stays a skip, and the run's summary lists loudly what did not run.
- Every process of the run talks to a private pcscd (simulators.services_pcsc): the
  environment is set before any test can make a PC/SC call.
- The run must leave the checkout as it found it: a tracked file changed, or a new file git
  does not ignore, fails the run. Docs screenshots are written only on request
  (``scripts/refresh-screenshots.sh``, see tests/browser.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Generator
from pathlib import Path

import pytest

from simulators.services_pcsc import PcscSandbox

# The one list of skips CI allows: hardware a CI machine (a container) cannot have.
# A skip reason that contains one of these keys is allowed; every other skip fails under CI.
HARDWARE_SKIPS: dict[str, str] = {
    "/dev/uinput": "a writable kernel uinput device, to type as a USB HID scanner does",
    "no /dev/fuse": "the kernel's FUSE device, for the power-cut drill's lazy filesystem",
}

REFRESH_SCREENSHOTS_ENV = "CCCD_REFRESH_SCREENSHOTS"
SCREENSHOTS_DIR = "docs/screenshots/"

_SANDBOX = pytest.StashKey[PcscSandbox]()
_CHECKOUT = pytest.StashKey["dict[str, str] | None"]()  # None: not a git checkout
_CHECKOUT_CHANGES = pytest.StashKey[list[str]]()


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to anything but an explicit no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def hardware_skip(reason: str) -> str | None:
    """The hardware a skip reason names, if it is one CI allows; else None."""
    return next((key for key in HARDWARE_SKIPS if key in reason), None)


# Parts of tests that passed without running everything (a browser check without Chromium).
PARTS_NOT_RUN: list[tuple[str, str]] = []


def part_not_run(reason: str) -> None:
    """A test goes on without one of its parts: under CI that fails the test, elsewhere the
    run's summary lists it beside the skips."""
    if in_ci():
        pytest.fail(f"CI is set and part of this test cannot run: {reason}")
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]
    PARTS_NOT_RUN.append((test, reason))


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_skip_in_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if hardware_skip(reason):
        return
    report.outcome = "failed"
    report.longrepr = (f"CI is set, so this skip is a failure: {reason}\n"
                       "(only the hardware named in tests/suite_rules.py HARDWARE_SKIPS may skip under CI)")


# ------------------------------------------------------------------ skips under CI
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _fail_skip_in_ci(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield  # a module-level skip (importorskip) lands here
    _fail_skip_in_ci(report)
    return report


# ------------------------------------------------------------------ private pcscd, checkout state
def pytest_configure(config: pytest.Config) -> None:
    # libpcsclite reads PCSCLITE_CSOCK_NAME once, at the first PC/SC call of a process:
    # point this process (and every program it starts) at the private pcscd before any test runs.
    config.stash[_SANDBOX] = PcscSandbox.for_this_process()
    config.stash[_CHECKOUT] = _checkout_state(config.rootpath)


def pytest_unconfigure(config: pytest.Config) -> None:
    sandbox = config.stash.get(_SANDBOX, None)
    if sandbox is not None:
        sandbox.remove()


# ------------------------------------------------------------------ the checkout, before and after
def _checkout_state(root: Path) -> dict[str, str] | None:
    """Each changed or new (unignored) path of the checkout with a hash of its content;
    None when this is not a git checkout (or git is missing)."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, check=True)
        root = Path(top.stdout.decode().strip())
        out = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=all"], cwd=root,
                             capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return None
    state: dict[str, str] = {}
    entries = iter(out.split("\0"))
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        if status[0] in "RC":
            next(entries, None)  # a rename's second field is its old path
        file = root / path
        digest = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "-"
        state[path] = f"{status} {digest}"
    return state


def checkout_changes(before: dict[str, str], after: dict[str, str], *, allow_screenshots: bool) -> list[str]:
    """Paths the run changed: new entries, entries whose status or content differ, entries gone."""
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if allow_screenshots:
        changed = [p for p in changed if not p.startswith(SCREENSHOTS_DIR)]
    return changed


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_CHECKOUT, None)
    if before is None or hasattr(session.config, "workerinput"):
        return
    after = _checkout_state(session.config.rootpath) or {}
    changed = checkout_changes(before, after, allow_screenshots=os.environ.get(REFRESH_SCREENSHOTS_ENV) == "1")
    if changed:
        session.config.stash[_CHECKOUT_CHANGES] = changed
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    tr = terminalreporter
    skipped = [r for r in tr.stats.get("skipped", []) if not hasattr(r, "wasxfail")]
    if skipped:
        reasons: dict[str, int] = {}
        for report in skipped:
            reason = _skip_reason(report)
            reasons[reason] = reasons.get(reason, 0) + 1
        title = f"{len(skipped)} TEST{'S' if len(skipped) != 1 else ''}"
        tr.write_sep("!", f"{title} DID NOT RUN (skipped); under CI=1 a skip fails unless it is hardware",
                     red=True, bold=True)
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            kind = "hardware" if hardware_skip(reason) else "MISSING"
            tr.write_line(f"  {count:4d} x [{kind}] {reason}", red=kind == "MISSING", yellow=kind == "hardware")
    if PARTS_NOT_RUN:
        tr.write_sep("!", f"{len(PARTS_NOT_RUN)} TEST PART(S) DID NOT RUN; under CI=1 they fail", red=True, bold=True)
        for nodeid, reason in PARTS_NOT_RUN:
            tr.write_line(f"  {nodeid}: {reason}", red=True)
    if config.stash.get(_CHECKOUT, None) is None:
        tr.write_line("checkout check off: not a git checkout (or git missing), so changes to it are not seen",
                      yellow=True)
    changed = config.stash.get(_CHECKOUT_CHANGES, [])
    if changed:
        tr.write_sep("!", "THE CHECKOUT CHANGED DURING THE RUN (tests must write under tmp dirs)", red=True, bold=True)
        tr.write_line("  a test wrote these (or they were edited meanwhile); the run fails:", red=True)
        for path in changed:
            tr.write_line(f"  {path}", red=True)
