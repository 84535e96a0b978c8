"""Resident memory and CPU of the desk agent with simulated readers attached, at idle.

Starts a real mosquitto and the agent as a subprocess (`cccd-edge run`) with a simulated
camera (a looping 1280x720 video of an empty desk at the configured frame rate) and the
screen server, lets it settle, then samples /proc for a while. Baseline in the same run:
the same agent with no camera, so the camera's share is visible as a ratio.

    .venv/bin/python benchmarks/agent_resources.py [--seconds 120] [--fps 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.settings_base import write_secret_file  # noqa: E402
from simulators.qr_cards import CardFrameGenerator  # noqa: E402
from simulators.services import Mosquitto, free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def empty_desk_video(path: Path, fps: float, seconds: float = 4.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    scene = CardFrameGenerator(1, (1280, 720)).empty_frame(0).image
    if scene.ndim == 2:
        scene = cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR)
    rng = np.random.default_rng(0)
    for _ in range(int(fps * seconds)):
        # the same desk, with a camera sensor's noise in every frame
        noise = rng.normal(0, 2.0, scene.shape)
        writer.write(np.ascontiguousarray(np.clip(scene + noise, 0, 255).astype(np.uint8)))
    writer.release()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def measure(config: Path, seconds: float, settle: float) -> tuple[float, float, float]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        samples = []
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            samples.append(rss_mib(proc.pid))
        cpu = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 100
        return cpu, sum(samples) / len(samples), max(samples)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=15.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cccd-agent-bench-"))
    video = work / "empty-desk.mp4"
    empty_desk_video(video, args.fps)
    key = work / "pseudonym.key"
    write_secret_file(key, os.urandom(32))
    with Mosquitto() as broker:
        rows = []
        for label, camera in (("agent, no reader attached (baseline)", None),
                              (f"+ camera {args.fps:g} fps, empty desk, still gate off", False),
                              (f"+ camera {args.fps:g} fps, empty desk, still gate on", True)):
            config = work / f"edge-{camera}.toml"
            text = (f'facility_code = "34001"\nreader_id = "bench"\npseudonym_key_file = "{key}"\n'
                    f'state_dir = "{work / ("state-" + str(camera))}"\n'
                    f'[mqtt]\nurl = "{broker.url}"\n[chip]\nenabled = true\n'
                    f'[screen]\nport = {free_port()}\n')
            if camera is not None:
                text += (f'[[qr_sources]]\nkind = "camera"\ndevice = "{video}"\nfps = {args.fps}\nloop = true\n'
                         f'still_gate = {"true" if camera else "false"}\n')
            config.write_text(text)
            rows.append((label, *measure(config, args.seconds, args.settle)))
    base_cpu = rows[0][1]
    print(f"\nDesk agent resources over {args.seconds:g} s (after {args.settle:g} s settling), one process:")
    print(f"{'configuration':55} {'CPU %':>7} {'RSS mean MiB':>13} {'RSS max MiB':>12} {'CPU vs base':>12}")
    for label, cpu, rss_mean, rss_max in rows:
        ratio = f"{cpu / base_cpu:.1f}x" if base_cpu > 0 else "-"
        print(f"{label:55} {cpu:7.2f} {rss_mean:13.1f} {rss_max:12.1f} {ratio:>12}")


if __name__ == "__main__":
    main()
