"""scripts/setup.sh waits for a held apt/dpkg lock (flock or fcntl, as /proc/locks lists them),
gives up after its bound with the holder named, and tells a user without root or sudo what to do.
The functions are sourced from the script itself; no package is installed here."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "scripts" / "setup.sh"


def _bash(script: str, *, env: dict[str, str] | None = None, timeout: float = 60,
          user: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [shutil.which("bash") or "/bin/bash", "-c", f"source {SETUP}; {script}"]
    if user is not None:
        command = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", user, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def test_a_flock_held_lock_is_waited_for_with_a_message_then_setup_goes_on(tmp_path):
    lock = tmp_path / "lock"
    lock.touch()
    holder = subprocess.Popen(["flock", str(lock), "sleep", "2"])
    try:
        for _ in range(100):  # until flock holds it
            if _bash(f"lock_holder {lock}").stdout.strip():
                break
        result = _bash(f"APT_LOCKS=({lock}); LOCK_TIMEOUT=60; wait_for_apt_locks; echo went-on")
    finally:
        holder.wait(30)
    assert result.returncode == 0, result.stderr
    assert f"Waiting for another package manager to finish: {lock} is held by pid" in result.stdout
    assert result.stdout.strip().endswith("went-on")


def test_an_fcntl_lock_as_apt_takes_it_is_seen_and_the_wait_is_bounded(tmp_path):
    lock = tmp_path / "lists-lock"
    with open(lock, "w") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)  # apt and dpkg lock with fcntl, not flock
        assert _bash(f"lock_holder {lock}").stdout.strip() == str(os.getpid())
        result = _bash(f"APT_LOCKS=({lock}); LOCK_TIMEOUT=1; wait_for_apt_locks; echo went-on")
    assert result.returncode != 0
    assert "went-on" not in result.stdout
    assert f"{lock} is still held by pid {os.getpid()}" in result.stderr
    assert _bash(f"lock_holder {lock}").stdout.strip() == ""  # released: nobody holds it


def test_a_user_without_root_or_sudo_is_told_what_to_do():
    # A PATH with what the check needs and no sudo, as on a minimal Debian; in a folder the
    # unprivileged user can reach (pytest's tmp dirs are private to their owner).
    bin_dir = Path(tempfile.mkdtemp(prefix="cccd-setup-bin-"))
    try:
        os.chmod(bin_dir, 0o755)
        for tool in ("apt-get", "dpkg-query", "id", "dirname"):
            found = shutil.which(tool)
            assert found, tool
            (bin_dir / tool).symlink_to(found)
        env = {"PATH": str(bin_dir), "HOME": "/tmp"}
        result = _bash("main", env=env, user="nobody" if os.geteuid() == 0 else None)
    finally:
        shutil.rmtree(bin_dir)
    assert result.returncode == 1
    assert "not root, and sudo is not installed" in result.stderr
    assert "apt-get install sudo && usermod -aG sudo" in result.stderr
