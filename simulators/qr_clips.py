"""Live-video clips of a card presented to the desk camera: brought into view, held, taken away.

Each clip is rendered frame by frame with the camera model of
:mod:`simulators.qr_camera_model`, the card's motion giving each frame its own smear
(the path the card travels during the exposure) and rolling-shutter shear (how far it
travels during the sensor's readout):

- ``lead``: the empty desk (sensor noise only);
- ``entry``: the card slides in from outside the frame and slows to a stop (ease-out);
- ``hold``: the card held by hand: a tremor of a fraction of a pixel per frame;
- ``exit``: the card is taken away, accelerating; then the desk is empty again.

:attr:`Clip.still_frame` is the first frame of the hold: the moment the card is still,
from which the benchmark measures the time to the check-in. Conditions cycle over the
clips: a well-lit desk, a dim one (1/15 s exposure at high gain: more smear and noise),
a card held closer than the focus (defocus), the citizen app on a phone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from simulators.population import Population
from simulators.qr_camera_model import Lighting, Optics, SceneObject, card_object, phone_object, render_scene
from simulators.qr_cards import _background, _pose_quad

CLIP_CONDITIONS = ("lit", "dim", "defocus", "phone")
READOUT_SECONDS = 0.025  # a 720p sensor reads its rows out over ~25 ms


@dataclass(frozen=True)
class Clip:
    frames: tuple[np.ndarray, ...]  # BGR uint8, at ``fps``
    fps: float
    payload: str
    condition: str
    first_card_frame: int  # the card's first frame in view
    still_frame: int  # the first frame of the hold
    leave_frame: int  # the first frame of the exit

    def __repr__(self) -> str:  # the payload is personal data, even synthetic
        return f"Clip(condition={self.condition!r}, frames={len(self.frames)}, still_frame={self.still_frame})"


def card_clip(
    seed: int,
    index: int,
    *,
    fps: float = 15.0,
    lead_seconds: float = 0.5,
    hold_seconds: float = 2.0,
    condition: str | None = None,
    frame_size: tuple[int, int] = (1280, 720),
) -> Clip:
    """Clip ``index`` of the seeded series (deterministic)."""
    condition = condition or CLIP_CONDITIONS[index % len(CLIP_CONDITIONS)]
    if condition not in CLIP_CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}")
    digest = hashlib.sha256(f"qr-clips/{seed}/{index}/{condition}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    payload = Population(seed).citizen(index).qr_payload()
    w, h = frame_size
    background = _background(rng, w, h)

    obj: SceneObject
    if condition == "phone":
        obj = phone_object(rng, payload)
        width = rng.uniform(0.2, 0.26) * w
    else:
        obj = card_object(rng, payload)
        width = rng.uniform(0.6, 0.78) * w
    rest = _pose_quad(rng, w, h, width, rng.uniform(-10, 10), 0.06, obj.aspect)

    exposure_s = 1 / 15 if condition == "dim" else 1 / 30
    base = Optics(
        lens_sigma=float(rng.uniform(0.5, 0.7)),
        exposure=float(rng.uniform(0.08, 0.15)) if condition == "dim" else 1.0,
        read_noise=float(rng.uniform(2.0, 3.0)),
        jpeg_quality=int(rng.integers(78, 92)),
        isp_sharpen=float(rng.uniform(0.2, 0.5)),
        defocus_radius=float(rng.uniform(1.2, 2.0)) if condition == "defocus" else 0.0,
    )
    lighting = Lighting(
        ambient=float(rng.uniform(0.8, 1.0)),
        gradient=(float(rng.uniform(-0.25, 0.25)), float(rng.uniform(-0.25, 0.25))),
        screen_brightness=float(rng.uniform(0.7, 1.2)),
        screen_reflection=float(rng.uniform(0.03, 0.12)),
    )

    # the card's offset from its rest pose over time
    entry_s = float(rng.uniform(0.5, 0.8))
    exit_s = 0.4
    side = int(rng.integers(0, 4))  # which edge it comes in from
    span = np.array([w, h], np.float64)
    start = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]][side]) * span * 0.9
    start += rng.normal(0, 0.05, 2) * span
    leave = -start * rng.uniform(0.8, 1.1)  # taken away towards the other side
    tremor = _tremor(rng, int((hold_seconds + 1) * fps * 16) + 1, fps * 16)

    t_entry = lead_seconds
    t_still = t_entry + entry_s
    t_exit = t_still + hold_seconds
    t_end = t_exit + exit_s + 0.4

    def offset(t: float) -> np.ndarray | None:
        if t < t_entry or t > t_exit + exit_s:
            return None
        if t < t_still:
            u = (t - t_entry) / entry_s
            return start * (1 - u) ** 2  # ease-out: fast at first, slowing to rest
        hold: np.ndarray = tremor[min(len(tremor) - 1, int((t - t_still) * fps * 16))]
        if t <= t_exit:
            return hold
        u = (t - t_exit) / exit_s
        away: np.ndarray = hold + leave * u**2  # ease-in: taken away faster and faster
        return away

    frames: list[np.ndarray] = []
    first_card = still = leave_frame = -1
    empty = None
    for k in range(round(t_end * fps)):
        t = k / fps
        here = offset(t)
        if here is None or not _in_view(rest + here, w, h):
            if empty is None:
                empty = render_scene(rng, background, obj, rest + 10 * span, lighting, base)  # off-frame: desk only
            frames.append(_renoise(empty, rng))
            continue
        if first_card < 0:
            first_card = k
        if still < 0 and t >= t_still:
            still = k
        if leave_frame < 0 and t > t_exit:
            leave_frame = k
        # where the card goes during this frame's exposure, and during the readout
        samples = [offset(t + exposure_s * s / 15) for s in range(16)]
        path = np.array([p if p is not None else here for p in samples])
        after = offset(t + READOUT_SECONDS)
        moved = (after if after is not None else here) - here
        optics = replace(base, motion_path=path if np.ptp(path, axis=0).max() > 0.3 else None,
                         rolling_shift=(float(moved[0]), float(moved[1])))
        frames.append(render_scene(rng, background, obj, (rest + here).astype(np.float32), lighting, optics))
    if still < 0:
        still = first_card
    if leave_frame < 0:
        leave_frame = len(frames)
    return Clip(tuple(frames), fps, payload, condition, first_card, still, leave_frame)


def _tremor(rng: np.random.Generator, steps: int, rate: float) -> np.ndarray:
    """A hand's tremor: a mean-reverting random walk, ~1 px across, sampled at ``rate``."""
    walk = np.zeros((steps, 2))
    for i in range(1, steps):
        walk[i] = walk[i - 1] * (1 - 2.0 / rate) + rng.normal(0, 0.6 / np.sqrt(rate), 2)
    return walk


def _in_view(quad: np.ndarray, w: int, h: int) -> bool:
    """Any part of the card in the frame."""
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    return bool(hi[0] > 0 and hi[1] > 0 and lo[0] < w and lo[1] < h)


def _renoise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same desk in the next frame: fresh sensor noise."""
    noise = rng.normal(0, 1.5, image.shape)
    out: np.ndarray = np.clip(image + noise, 0, 255).astype(np.uint8)
    return out
