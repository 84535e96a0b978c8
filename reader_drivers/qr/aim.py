"""The technician's aiming view: a camera source's newest frame as JPEG, detected QR outlined.

Made only when asked (the desk screen's technician mode polls it about twice a second), never
per frame: the copy, the drawing and the encoding cost nothing while nobody looks. When the last
decode left no outline (a still frame the gate skipped, a decoder without positions), one
zxing-cpp pass on the requested frame finds it.
"""

from __future__ import annotations

import cv2
import numpy as np

from reader_drivers.qr.camera import FrameDecodingSource, Outline
from reader_drivers.qr.decode import decode_first_stage

OUTLINE_BGR = (0, 255, 0)  # pure green: absent from a desk scene, easy to see on a card
JPEG_QUALITY = 75


def outline_frame(image: np.ndarray, outlines: tuple[Outline, ...]) -> np.ndarray:
    """``image`` (drawn on in place, BGR) with each outline as a closed polygon."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    thickness = max(2, min(image.shape[:2]) // 150)
    for outline in outlines:
        corners = np.array(outline, dtype=np.int32).reshape(-1, 1, 2)
        cv2.polylines(image, [corners], isClosed=True, color=OUTLINE_BGR, thickness=thickness)
    return image


def aim_jpeg(source: FrameDecodingSource) -> bytes | None:
    """The newest frame with its QR outlines as JPEG; None before the first frame."""
    aim = source.aim_frame()
    if aim is None:
        return None
    image, outlines = aim
    if not outlines:
        outlines = tuple(s.points for s in decode_first_stage(image) if len(s.points) >= 3)
    ok, jpeg = cv2.imencode(".jpg", outline_frame(image, outlines), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return bytes(jpeg) if ok else None
