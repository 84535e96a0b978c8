"""Synthetic camera frames of a chip ID card's QR code, with realistic degradations.

Each frame shows one synthetic citizen's card (payload from the seeded
:class:`~simulators.population.Population`) on a desk-like background, as a Pi camera
sees it when the patient holds the card up: the QR is rendered as the card's is (byte
mode UTF-8, no ECI, error correction M (?: the level on real cards is not confirmed),
smallest version that fits, so version 7-9 for a typical payload), printed in the card's
upper corner about 19 % of the card's width, the card 60-85 % of the frame's width
(modules of 2.5-4 px at 1280x720).

Degradation classes (one per frame, on top of a mild random pose):
``clean``, ``perspective`` (strong tilt), ``rotation`` (any in-plane angle),
``gaussian_blur`` (defocus), ``motion_blur``, ``low_light`` (dark, noisy), ``glare``
(a saturated specular spot on the laminate), ``jpeg`` (heavy compression),
``small_modules`` (card far away: modules of 1.5-2 px).

Everything is seeded: ``CardFrameGenerator(seed).frame(i)`` is always the same image.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np
import segno

from simulators.population import Population

DEGRADATIONS = (
    "clean",
    "perspective",
    "rotation",
    "gaussian_blur",
    "motion_blur",
    "low_light",
    "glare",
    "jpeg",
    "small_modules",
)

CARD_ASPECT = 85.6 / 54.0  # ISO/IEC 7810 ID-1
QR_ERROR_LEVEL = "m"


@dataclass(frozen=True)
class CardFrame:
    index: int
    image: np.ndarray  # BGR, uint8
    payload: str | None  # None for a frame with no card
    full_name: str | None
    degradation: str
    qr_version: int | None = None
    module_px: float | None = None  # approximate module size in the frame, before blur

    def __repr__(self) -> str:  # the payload is personal data (even synthetic): keep it out of logs
        return f"CardFrame(index={self.index}, degradation={self.degradation!r})"


def qr_matrix(payload: str, error: str = QR_ERROR_LEVEL) -> tuple[np.ndarray, int]:
    """The QR as the card prints it: a 0/1 module matrix with a 4-module quiet zone."""
    qr = segno.make(payload, encoding="utf-8", error=error, boost_error=False, micro=False)
    matrix = np.array([list(row) for row in qr.matrix], dtype=np.uint8)
    return np.pad(matrix, 4), int(qr.version)


class CardFrameGenerator:
    """Seeded generator of synthetic card frames (see module docstring)."""

    def __init__(self, seed: int = 1, frame_size: tuple[int, int] = (1280, 720)) -> None:
        self.seed = seed
        self.frame_size = frame_size
        self.population = Population(seed)

    def _rng(self, index: int, salt: str = "") -> np.random.Generator:
        digest = hashlib.sha256(f"qr-cards/{self.seed}/{index}/{salt}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "big"))

    def degradation_for(self, index: int) -> str:
        return DEGRADATIONS[index % len(DEGRADATIONS)]

    def frame(self, index: int, degradation: str | None = None) -> CardFrame:
        """Frame ``index``: citizen ``index``'s card under ``degradation`` (cycled by default)."""
        degradation = degradation or self.degradation_for(index)
        if degradation not in DEGRADATIONS:
            raise ValueError(f"unknown degradation {degradation!r}")
        rng = self._rng(index, degradation)
        citizen = self.population.citizen(index)
        payload = citizen.qr_payload()
        w, h = self.frame_size
        frame = _background(rng, w, h)

        matrix, version = qr_matrix(payload)
        card_frac = rng.uniform(0.6, 0.85) if degradation != "small_modules" else rng.uniform(0.3, 0.4)
        card_w = card_frac * w  # same field of view at any resolution
        card_img, qr_box = _card(rng, matrix, int(card_w * 1.5))

        pose = {"perspective": 0.22, "rotation": 0.04}.get(degradation, 0.06)
        angle = rng.uniform(0, 360) if degradation == "rotation" else rng.uniform(-12, 12)
        quad = _pose_quad(rng, w, h, card_w, angle, pose)
        frame = _composite(frame, card_img, quad)
        module_px = float(np.linalg.norm(quad[1] - quad[0])) * 0.19 / matrix.shape[0]
        frame = cv2.GaussianBlur(frame, (0, 0), 0.6)  # lens and sensor softness
        frame = _degrade(frame, degradation, rng, quad, card_img.shape, qr_box)
        frame = _sensor_noise(frame, rng, 2.0)
        return CardFrame(index, frame, payload, citizen.full_name, degradation, version, float(module_px))

    def empty_frame(self, index: int = 0) -> CardFrame:
        """A frame with no card in view (desk and clutter only)."""
        rng = self._rng(index, "empty")
        w, h = self.frame_size
        frame = _sensor_noise(cv2.GaussianBlur(_background(rng, w, h), (0, 0), 0.6), rng, 2.0)
        return CardFrame(index, frame, None, None, "none")


# --------------------------------------------------------------------------- drawing


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A desk: smooth colour gradient, wood-like streaks, a few random objects."""
    base = rng.uniform(60, 170, size=3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = (xx / w - 0.5) * rng.uniform(-40, 40) + (yy / h - 0.5) * rng.uniform(-40, 40)
    streaks = np.sin(yy / rng.uniform(6, 20) + np.sin(xx / rng.uniform(60, 200)) * 3) * rng.uniform(3, 10)
    img = np.clip(base[None, None, :] + (grad + streaks)[..., None], 0, 255).astype(np.uint8)
    for _ in range(rng.integers(2, 6)):  # clutter: papers, a keyboard edge, a hand
        colour = tuple(int(c) for c in rng.integers(20, 240, size=3))
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(40, 400)), y0 + int(rng.integers(40, 300))), colour, -1)
    result: np.ndarray = img
    return result


def _card(rng: np.random.Generator, matrix: np.ndarray, width: int) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The card face: tinted guilloche background, photo, text lines, the QR top-right."""
    height = int(width / CARD_ASPECT)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tint = np.array([235, 228, 215], np.float32) + rng.uniform(-10, 10, size=3)
    pattern = (np.sin(xx / 9.0 + np.sin(yy / 23.0) * 4) + np.sin(yy / 7.0 + xx / 31.0)) * 6
    card = np.clip(tint[None, None, :] + pattern[..., None] * np.array([0.6, 0.3, 1.0]), 0, 255).astype(np.uint8)
    # header band (red-ish emblem area) and a photo
    cv2.rectangle(card, (0, 0), (width, int(height * 0.12)), (190, 200, 230), -1)
    px0, py0 = int(width * 0.04), int(height * 0.3)
    cv2.rectangle(card, (px0, py0), (px0 + int(width * 0.22), py0 + int(height * 0.42)), (150, 160, 175), -1)
    cv2.circle(card, (px0 + int(width * 0.11), py0 + int(height * 0.17)), int(width * 0.05), (110, 125, 150), -1)
    # text lines (black and dark blue bars of word-like runs)
    scale = width / 800.0
    y = int(height * 0.33)
    while y < height * 0.92:
        x = int(width * 0.3)
        while x < width * (0.74 if y < height * 0.45 else 0.95):
            word = int(rng.integers(15, 70) * scale)
            cv2.rectangle(card, (x, y), (x + word, y + max(2, int(9 * scale))), (30, 30, 40), -1)
            x += word + int(8 * scale)
        y += int(rng.integers(28, 40) * scale)
    # the QR: ~19 % of the card's width, top right, below the header
    side = int(width * 0.19)
    qr = cv2.resize((1 - matrix) * 255, (side, side), interpolation=cv2.INTER_NEAREST)
    qx, qy = int(width * 0.77), int(height * 0.14)
    ink = np.array([25, 25, 30], np.float32)
    paper = card[qy : qy + side, qx : qx + side].astype(np.float32) * 0.3 + 255 * 0.7
    qf = (qr.astype(np.float32) / 255.0)[..., None]
    card[qy : qy + side, qx : qx + side] = (qf * paper + (1 - qf) * ink).astype(np.uint8)
    return card, (qx, qy, side)


def _pose_quad(
    rng: np.random.Generator, w: int, h: int, card_w: float, angle: float, tilt: float, aspect: float = CARD_ASPECT
) -> np.ndarray:
    card_h = card_w / aspect
    corners = np.array(
        [[-card_w / 2, -card_h / 2], [card_w / 2, -card_h / 2], [card_w / 2, card_h / 2], [-card_w / 2, card_h / 2]]
    )
    # perspective: shrink one edge (card tilted away from the camera)
    edge = int(rng.integers(0, 4))
    shrink = rng.uniform(tilt * 0.5, tilt)
    a, b = edge, (edge + 1) % 4
    mid = (corners[a] + corners[b]) / 2
    corners[a] = mid + (corners[a] - mid) * (1 - shrink)
    corners[b] = mid + (corners[b] - mid) * (1 - shrink)
    corners += rng.normal(0, card_w * tilt * 0.08, size=corners.shape)
    t = np.deg2rad(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    corners = corners @ rot.T
    span = np.abs(corners).max(axis=0)
    fit = min(1.0, 0.97 * w / 2 / span[0], 0.97 * h / 2 / span[1])  # keep the whole card in view
    corners *= fit
    span *= fit
    cx = rng.uniform(min(span[0], w / 2), max(w - span[0], w / 2))
    cy = rng.uniform(min(span[1], h / 2), max(h - span[1], h / 2))
    result: np.ndarray = (corners + np.array([cx, cy])).astype(np.float32)
    return result


def _composite(frame: np.ndarray, card: np.ndarray, quad: np.ndarray) -> np.ndarray:
    ch, cw = card.shape[:2]
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    h, w = frame.shape[:2]
    warped = cv2.warpPerspective(card, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), m, (w, h), flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    result: np.ndarray = (warped * alpha + frame * (1 - alpha)).astype(np.uint8)
    return result


def _degrade(
    frame: np.ndarray,
    kind: str,
    rng: np.random.Generator,
    quad: np.ndarray,
    card_shape: tuple[int, ...],
    qr_box: tuple[int, int, int],
) -> np.ndarray:
    if kind == "gaussian_blur":
        return cv2.GaussianBlur(frame, (0, 0), rng.uniform(1.0, 1.8))
    if kind == "motion_blur":
        length = int(rng.integers(4, 10))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
        rotated = cv2.warpAffine(kernel, rot, (length, length))
        normalised = (rotated / max(float(rotated.sum()), 1e-6)).astype(np.float32)
        return cv2.filter2D(frame, -1, normalised)
    if kind == "low_light":
        gain = rng.uniform(0.12, 0.25)
        dark = frame.astype(np.float32) * gain
        dark += rng.normal(0, rng.uniform(2.0, 4.0), size=dark.shape)  # shot/read noise at high gain
        result: np.ndarray = np.clip(dark, 0, 255).astype(np.uint8)
        return result
    if kind == "glare":
        # a specular spot on the laminate, centred near the QR, partly saturating it
        qx, qy, side = qr_box
        ch, cw = card_shape[:2]
        src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
        m = cv2.getPerspectiveTransform(src, quad)
        centre = np.array([[[qx + side * rng.uniform(0.1, 0.9), qy + side * rng.uniform(0.1, 0.9)]]], np.float32)
        (gx, gy), = cv2.perspectiveTransform(centre, m)[0]
        scale = np.linalg.norm(quad[1] - quad[0]) / cw
        radius = side * scale * rng.uniform(0.15, 0.3)
        h, w = frame.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        spot = np.exp(-(((xx - gx) ** 2) + ((yy - gy) ** 2)) / (2 * radius**2))
        out = frame.astype(np.float32) + spot[..., None] * rng.uniform(170, 260)
        glared: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
        return glared
    if kind == "jpeg":
        _, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(8, 20))])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return decoded if decoded is not None else frame
    return frame  # clean, perspective, rotation, small_modules: the pose does the work


def _sensor_noise(frame: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    noise = rng.normal(0, sigma, size=frame.shape).astype(np.float32)
    result: np.ndarray = np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return result
