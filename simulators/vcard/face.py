"""A synthetic, face-like JPEG for DG2 (numpy + OpenCV; no real person).

Kept apart from lds_builder so the LDS code itself imports no cv2. The image
is an ICAO-ish portrait (3:4, plain background, centred oval face) with
gradients and sensor-like noise so the JPEG has the size of a real chip
photo. Same seed, same bytes (numpy's PCG64 and libjpeg are deterministic).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["HEIGHT", "WIDTH", "face_jpeg"]

WIDTH = 360
HEIGHT = 480


def _render(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = HEIGHT, WIDTH
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    # Background: light blue-grey vertical gradient (BGR).
    top = np.array([235, 225, 215], np.float32) + rng.uniform(-10, 10, 3)
    bottom = top - rng.uniform(20, 40)
    img = top + (bottom - top) * (yy / h)[..., None]

    # Shoulders / clothing.
    cloth = rng.uniform(20, 120, 3)
    shoulders = ((xx - w / 2) / (w * 0.55)) ** 2 + ((yy - h * 1.08) / (h * 0.32)) ** 2 <= 1
    img[shoulders] = cloth

    # Neck and face with shading: skin tone, lit from the upper left.
    skin = np.array([rng.uniform(120, 170), rng.uniform(150, 190), rng.uniform(190, 230)], np.float32)
    cx, cy = w / 2 + rng.uniform(-8, 8), h * 0.42 + rng.uniform(-8, 8)
    ax, ay = w * rng.uniform(0.25, 0.29), h * rng.uniform(0.26, 0.30)
    neck = (np.abs(xx - cx) < ax * 0.45) & (yy > cy) & (yy < h * 0.85)
    img[neck] = skin * 0.85
    d = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
    face = d <= 1
    shade = 1.05 - 0.25 * np.clip(d, 0, 1) - 0.08 * ((xx - cx) / ax)
    img[face] = (skin * shade[..., None])[face]

    # Hair: a darker cap over the top of the oval.
    hair_colour = rng.uniform(10, 45, 3)
    hair = (((xx - cx) / (ax * 1.08)) ** 2 + ((yy - cy + ay * 0.12) / (ay * 1.02)) ** 2 <= 1) & (
        yy < cy - ay * 0.55 + 12 * np.sin(xx / 17.0)
    )
    img[hair] = hair_colour

    out = np.clip(img, 0, 255).astype(np.uint8)

    # Eyes, brows, nose, mouth.
    eye_y = int(cy - ay * 0.12)
    for side in (-1, 1):
        ex = int(cx + side * ax * 0.38)
        cv2.ellipse(out, (ex, eye_y), (int(ax * 0.17), int(ay * 0.06)), 0, 0, 360, (245, 245, 245), -1, cv2.LINE_AA)
        cv2.circle(out, (ex, eye_y), int(ay * 0.045), tuple(float(c) for c in rng.uniform(20, 70, 3)), -1, cv2.LINE_AA)
        cv2.circle(out, (ex, eye_y), int(ay * 0.02), (10, 10, 10), -1, cv2.LINE_AA)
        cv2.ellipse(out, (ex, eye_y - int(ay * 0.13)), (int(ax * 0.2), int(ay * 0.04)), 0, 190, 350,
                    tuple(float(c) for c in hair_colour), 5, cv2.LINE_AA)
    nose_tip = (int(cx), int(cy + ay * 0.22))
    cv2.line(out, (int(cx), eye_y + 10), nose_tip, tuple(float(c) for c in skin * 0.7), 2, cv2.LINE_AA)
    cv2.ellipse(out, nose_tip, (int(ax * 0.12), int(ay * 0.04)), 0, 0, 180, tuple(float(c) for c in skin * 0.65),
                2, cv2.LINE_AA)
    cv2.ellipse(out, (int(cx), int(cy + ay * 0.48)), (int(ax * 0.3), int(ay * 0.08)), 0, 10, 170,
                (80, 80, float(rng.uniform(140, 190))), 4, cv2.LINE_AA)

    # Sensor noise + slight blur: what makes a real photo compress to tens of KB.
    noisy = out.astype(np.float32) + rng.normal(0, 6.0, out.shape)
    blurred: np.ndarray = cv2.GaussianBlur(np.clip(noisy, 0, 255).astype(np.uint8), (3, 3), 0)
    return blurred


def face_jpeg(seed: int, min_bytes: int = 15_000, max_bytes: int = 25_000) -> bytes:
    """JPEG bytes of a synthetic portrait, sized within [min_bytes, max_bytes].

    The JPEG quality is searched (deterministically) to land in the window,
    aiming at its middle.
    """
    image = _render(seed)
    target = (min_bytes + max_bytes) // 2
    lo, hi = 5, 100
    best: bytes | None = None
    while lo <= hi:
        quality = (lo + hi) // 2
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - libjpeg failure
            raise RuntimeError("JPEG encoding failed")
        data = buf.tobytes()
        if min_bytes <= len(data) <= max_bytes and (best is None or abs(len(data) - target) < abs(len(best) - target)):
            best = data
        if len(data) < target:
            lo = quality + 1
        else:
            hi = quality - 1
    if best is None:
        raise ValueError(f"cannot fit a face JPEG into {min_bytes}..{max_bytes} bytes")
    return best
