"""Resident memory and CPU of the desk agent with simulated readers attached, at idle.

Starts a real mosquitto and the agent as a subprocess (`cccd-edge run`) with a simulated
camera (a looping 1280x720 video of an empty desk at the configured frame rate) and the
screen server, lets it settle, then samples /proc for a while. Baseline in the same run:
the same agent with no camera, so the camera's share is visible as a ratio.

The camera is a video file, so the agent also pays for decoding it (every frame is
grabbed, and grabbing a file frame decodes it), which a V4L2 camera does not cost (its
grab only dequeues a buffer). The last row measures that stand-in alone: a process that
only grabs the same file at the same rate. The agent's own camera cost is the difference.

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
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (1280, 720))
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


GRAB_ONLY = """
import sys, time, cv2
cap = cv2.VideoCapture(sys.argv[1]); interval = 1 / float(sys.argv[2]); due = time.monotonic()
while True:
    if not cap.grab():
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        continue
    due += interval
    time.sleep(max(0.0, due - time.monotonic()))
"""


def measure(config: Path | None, seconds: float, settle: float, grab_only: tuple[Path, float] | None = None,
            ) -> tuple[float, float, float]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if grab_only is not None:
        command = [sys.executable, "-c", GRAB_ONLY, str(grab_only[0]), str(grab_only[1])]
    else:
        command = [sys.executable, "-m", "app.cli", "run", "--config", str(config)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
                              (f"+ camera {args.fps:g} fps, empty desk, still gate on (idle camera)", True)):
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
    stand_in = measure(None, args.seconds, args.settle, grab_only=(video, args.fps))
    rows.append(("the camera stand-in alone (grabbing the file)", *stand_in))
    base_cpu = rows[0][1]
    print(f"\nDesk agent resources over {args.seconds:g} s (after {args.settle:g} s settling), one process:")
    print(f"{'configuration':65} {'CPU %':>7} {'RSS mean MiB':>13} {'RSS max MiB':>12} {'CPU vs base':>12}")
    for label, cpu, rss_mean, rss_max in rows:
        ratio = f"{cpu / base_cpu:.1f}x" if base_cpu > 0 else "-"
        print(f"{label:65} {cpu:7.2f} {rss_mean:13.1f} {rss_max:12.1f} {ratio:>12}")
    gate_on = rows[2][1]
    print(f"agent with the idle camera, less the stand-in's file decoding: {gate_on - stand_in[0]:.2f} % of a core")


if __name__ == "__main__":
    main()
