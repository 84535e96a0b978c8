"""Camera-model frames of a CCCD card's QR (or the same payload on a phone's screen).

Where :mod:`simulators.qr_cards` draws a frame and then filters it, this generator
follows the light: the scene is lit in linear light (an illumination field, shadows,
a specular highlight on the card's laminate), seen through a lens (a defocus disc),
moving during the exposure (a smear along a curved hand path, rows read one after
another: rolling shutter), caught on a sensor (photon shot noise and read noise scaled
by the exposure, a Bayer mosaic and its demosaic), then gamma-encoded, sharpened a
little by the camera's ISP and JPEG-compressed as a USB webcam's MJPEG stream is.

Degradation classes (:data:`CAMERA_CLASSES`, one per frame; every frame also gets the
base camera: mild lens blur, noise at normal light, demosaic, JPEG q 75-92):

``defocus``        the card inside the lens's near limit: a disc PSF of radius 1.2-3 px
``motion_path``    the hand moving during a 1/30 s exposure along a curved path, 5-14 px
``low_light``      a dim reception desk: 4-12 % exposure, high gain (shot + read noise)
``rolling_shutter`` the card sliding sideways while rows are read out (shear + smear)
``webcam_jpeg``    a cheap webcam: strong ISP sharpening halos, MJPEG quality 22-40
``specular``       a ceiling light mirrored in the laminate: a saturated streak on the QR
``shadow``         a hand's or phone's soft shadow over part of the card
``bent``           a card bent in a wallet: the QR's rows curve, shading varies across it
``phone_screen``   the citizen app showing the same payload: emissive, low contrast
                   (black level, room reflection), pixel grid aliasing into moiré
``phone_dark``     the same in dark mode: light modules on a dark screen (inverted)
``mirrored``       a driver that mirrors the picture (front cameras, some webcams)
``far``            the card held far away: modules of 1.2-1.8 px

``CameraFrameGenerator(seed).frame(i)`` is deterministic. Report with seeds that no
tuning used (the benchmark says which). :func:`render_scene` is the shared renderer the
live-video clips (:mod:`simulators.qr_clips`) use with a pose per frame.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from dataclasses import replace as _replace

import cv2
import numpy as np

from simulators.population import Population
from simulators.qr_cards import CARD_ASPECT, _background, _card, _pose_quad, qr_matrix

CAMERA_CLASSES = (
    "defocus",
    "motion_path",
    "low_light",
    "rolling_shutter",
    "webcam_jpeg",
    "specular",
    "shadow",
    "bent",
    "phone_screen",
    "phone_dark",
    "mirrored",
    "far",
)

PHONE_ASPECT = 19.5 / 9.0  # a typical phone screen, held in portrait


@dataclass(frozen=True)
class CameraFrame:
    index: int
    image: np.ndarray  # BGR uint8
    payload: str
    full_name: str
    degradation: str
    qr_centre: tuple[float, float] = (0.0, 0.0)  # where the QR is, in frame px (before mirroring)
    qr_side: float = 0.0  # its side in frame px (module size = side / (modules + 8))

    def __repr__(self) -> str:  # payloads are personal data, even synthetic ones
        return f"CameraFrame(index={self.index}, degradation={self.degradation!r})"


@dataclass(frozen=True)
class Optics:
    """What happens between the scene and the 8-bit frame (all in frame pixels)."""

    lens_sigma: float = 0.6  # the lens's and the sensor's own softness
    defocus_radius: float = 0.0  # disc PSF
    motion_path: np.ndarray | None = None  # (n, 2) points of the card's path during the exposure, px
    rolling_shift: tuple[float, float] = (0.0, 0.0)  # card displacement from the first row to the last, px
    exposure: float = 1.0  # fraction of the normal exposure (low light: a few %)
    read_noise: float = 2.0  # electrons-equivalent in 8-bit units at normal exposure
    isp_sharpen: float = 0.3  # unsharp amount the camera applies
    jpeg_quality: int = 88
    mirrored: bool = False


_TO_LINEAR = np.power(np.arange(256, dtype=np.float32) / 255.0, 2.2).astype(np.float32)
_TO_SRGB = np.clip(np.power(np.linspace(0.0, 1.0, 4096), 1 / 2.2) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _srgb_to_linear(image: np.ndarray) -> np.ndarray:
    linear: np.ndarray = _TO_LINEAR[image]  # a table: a power per pixel is the renderer's slowest step
    return linear


def _linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    index = (np.clip(linear, 0.0, 1.0) * 4095.0 + 0.5).astype(np.int32)
    encoded: np.ndarray = _TO_SRGB[index]
    return encoded


def disc_psf(radius: float) -> np.ndarray:
    """A defocused lens's point spread: a uniform disc, anti-aliased at its rim."""
    size = 2 * int(np.ceil(radius)) + 3
    c = size // 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - c
    kernel = np.clip(radius + 0.5 - np.sqrt(xx**2 + yy**2), 0.0, 1.0)
    result: np.ndarray = (kernel / kernel.sum()).astype(np.float32)
    return result


def path_psf(points: np.ndarray) -> np.ndarray:
    """The smear of a point moving along ``points`` (equal time per point)."""
    pts = points - points.mean(axis=0)
    half = int(np.ceil(np.abs(pts).max())) + 2
    size = 2 * half + 1
    kernel = np.zeros((size, size), np.float32)
    for x, y in pts:  # bilinear splat: sub-pixel paths keep their length
        x0, y0 = int(np.floor(x)) + half, int(np.floor(y)) + half
        fx, fy = x + half - x0, y + half - y0
        kernel[y0, x0] += (1 - fx) * (1 - fy)
        kernel[y0, x0 + 1] += fx * (1 - fy)
        kernel[y0 + 1, x0] += (1 - fx) * fy
        kernel[y0 + 1, x0 + 1] += fx * fy
    result: np.ndarray = kernel / kernel.sum()
    return result


def hand_path(rng: np.random.Generator, length: float, samples: int = 48) -> np.ndarray:
    """A curved path of roughly ``length`` px: a quadratic Bezier with uneven speed."""
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    p0 = -direction * length / 2
    p2 = direction * length / 2
    p1 = normal * length * rng.uniform(-0.45, 0.45)
    t = np.linspace(0, 1, samples) ** rng.uniform(0.7, 1.4)  # accelerating or slowing
    t = t[:, None]
    path: np.ndarray = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    return path


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class SceneObject:
    """A flat object to place in the scene: its texture (BGR uint8) and the QR's box on it."""

    texture: np.ndarray
    qr_box: tuple[int, int, int]  # x, y, side in texture pixels
    emissive: bool = False  # a screen: lit from inside, not by the room
    black_level: float = 0.0  # a screen's black, relative to its white (linear)
    aspect: float = CARD_ASPECT  # width / height

    @functools.cached_property
    def linear(self) -> np.ndarray:
        """The texture in linear light (computed once: a clip renders it every frame)."""
        return _srgb_to_linear(self.texture)


def card_object(rng: np.random.Generator, payload: str, width: int = 1200) -> SceneObject:
    matrix, _ = qr_matrix(payload)
    texture, box = _card(rng, matrix, width)
    return SceneObject(texture, box)


def phone_object(rng: np.random.Generator, payload: str, *, dark: bool = False) -> SceneObject:
    """The citizen app's screen showing the QR, inside a black bezel, with a pixel grid.

    The screen texture is drawn at about 1.3 texture px per screen pixel with a dark gap
    between pixels, so warping it into the frame aliases the grid into moiré as a real
    sensor does when the screen's pixel pitch is close to its own.
    """
    matrix, _ = qr_matrix(payload)
    screen_px = int(rng.integers(300, 420))  # screen pixels across, as the frame resolves them
    pitch = 3  # texture px per screen pixel: 2 lit, 1 gap
    w = screen_px * pitch
    h = int(w * PHONE_ASPECT)
    qr_side = int(w * rng.uniform(0.62, 0.75))
    module = max(1, qr_side // matrix.shape[0])
    qr = cv2.resize(((1 - matrix) * 255).astype(np.uint8), None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)
    if dark:
        qr = 255 - qr
    side = qr.shape[0]
    screen = np.full((h, w, 3), 30 if dark else 245, np.uint8)
    cv2.rectangle(screen, (0, 0), (w, int(h * 0.1)), (80, 60, 200) if not dark else (60, 40, 120), -1)  # app bar
    qx, qy = (w - side) // 2, int(h * 0.3)
    screen[qy : qy + side, qx : qx + side] = qr[..., None]
    grid = np.ones((h, w), np.float32)
    grid[:, pitch - 1 :: pitch] = 0.35  # the dark gaps between pixel columns and rows
    grid[pitch - 1 :: pitch, :] *= 0.35
    screen = (screen.astype(np.float32) * grid[..., None]).astype(np.uint8)
    bezel = int(w * 0.05)
    phone = np.full((h + 2 * bezel, w + 2 * bezel, 3), 12, np.uint8)
    phone[bezel : bezel + h, bezel : bezel + w] = screen
    return SceneObject(
        phone,
        (qx + bezel, qy + bezel, side),
        emissive=True,
        black_level=float(rng.uniform(0.03, 0.12)),
        aspect=phone.shape[1] / phone.shape[0],
    )


def bend_map(shape: tuple[int, int], sag: float, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remap tables that bend a flat texture as a card bowed along ``axis`` is seen:
    lines across the bend curve by up to ``sag`` (fraction of the other side), and the
    shading follows the surface's tilt. Returns (map_x, map_y, shade)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if axis == 0:  # bowed along its width: horizontal lines curve
        s = xx / max(w - 1, 1) * 2 - 1
        map_y = yy + sag * h * (1 - s**2) - sag * h * 0.5
        map_x = xx
    else:
        s = yy / max(h - 1, 1) * 2 - 1
        map_x = xx + sag * w * (1 - s**2) - sag * w * 0.5
        map_y = yy
    shade = 1.0 - 0.35 * np.abs(sag) * 4 * s**2  # the far-tilted ends catch less light
    return map_x.astype(np.float32), map_y.astype(np.float32), shade.astype(np.float32)


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Lighting:
    ambient: float = 1.0  # the room's light on the desk (linear, 1 = a well-lit desk)
    gradient: tuple[float, float] = (0.0, 0.0)  # relative change across the frame in x, y
    shadow: np.ndarray | None = None  # polygon (n, 2) in frame px, darkened to shadow_depth
    shadow_depth: float = 0.3
    specular: tuple[float, float, float, float, float] | None = None  # cx, cy, length, width, angle(rad)
    specular_gain: float = 3.0  # the highlight's peak over the white level (saturates)
    screen_brightness: float = 1.0  # an emissive object's white, relative to a white card
    screen_reflection: float = 0.1  # the room mirrored in a screen's glass (linear veil)


def render_scene(
    rng: np.random.Generator,
    background: np.ndarray,
    obj: SceneObject,
    quad: np.ndarray,
    lighting: Lighting,
    optics: Optics,
    *,
    bend: tuple[float, int] | None = None,
) -> np.ndarray:
    """One 8-bit BGR frame of ``obj`` placed on ``quad`` (4 corners, frame px, clockwise
    from the top-left) over ``background``, lit and photographed as the module says."""
    h, w = background.shape[:2]
    texture = obj.texture
    th, tw = texture.shape[:2]
    tex_lin = obj.linear
    alpha_tex = np.ones((th, tw), np.float32)
    if bend is not None:
        sag, axis = bend
        mx, my, shade = bend_map((th, tw), sag, axis)
        tex_lin = cv2.remap(tex_lin, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) * shade[..., None]
        bent_alpha = cv2.remap(alpha_tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        alpha_tex = np.asarray(bent_alpha, np.float32)

    # light: the room's illumination field falls on the desk and on a card, not on a screen
    yy, xx = _grid(h, w)
    light = lighting.ambient * (1 + lighting.gradient[0] * (xx / w - 0.5) + lighting.gradient[1] * (yy / h - 0.5))
    if lighting.shadow is not None:
        mask = np.zeros((h, w), np.float32)
        cv2.fillPoly(mask, [lighting.shadow.astype(np.int32)], 1.0)
        soft = max(3.0, w / 80)
        mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), soft), np.float32)  # a soft penumbra: the lamp is not a point
        light = light * (1 - mask * (1 - lighting.shadow_depth))
    linear = _srgb_to_linear(background) * light[..., None]

    # The object is drawn in its own box (with room for its smear), not the whole frame:
    # the frame outside it is the lit desk.
    reach = 4.0 + max(abs(optics.rolling_shift[0]), abs(optics.rolling_shift[1]))
    if optics.motion_path is not None:
        reach += float(np.abs(optics.motion_path - optics.motion_path.mean(axis=0)).max()) + 2
    x0, y0 = np.floor(quad.min(axis=0) - reach).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0) + reach).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:  # entirely out of view
        return _photograph(rng, linear, optics)
    bw, bh = x1 - x0, y1 - y0
    box_light = light[y0:y1, x0:x1]
    bx, by = xx[y0:y1, x0:x1], yy[y0:y1, x0:x1]

    # the object onto the frame: an area-averaging warp is what a sensor pixel does
    src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    m = cv2.getPerspectiveTransform(src, (quad - np.array([x0, y0])).astype(np.float32))
    layer = cv2.warpPerspective(tex_lin, m, (bw, bh), flags=cv2.INTER_AREA)
    alpha = cv2.warpPerspective(alpha_tex, m, (bw, bh), flags=cv2.INTER_LINEAR)
    if obj.emissive:
        white = lighting.screen_brightness
        reflection = lighting.screen_reflection * box_light[..., None]
        layer = (obj.black_level + (1 - obj.black_level) * layer) * white + reflection
    else:
        layer = layer * box_light[..., None]
    if lighting.specular is not None:  # the laminate mirrors a lamp: adds light, saturates
        cx, cy, length, width, angle = lighting.specular
        c, s = np.cos(angle), np.sin(angle)
        u = (bx - cx) * c + (by - cy) * s
        v = -(bx - cx) * s + (by - cy) * c
        streak = np.exp(-0.5 * ((u / length) ** 2 + (v / width) ** 2))
        veil = 0.25 * np.exp(-0.5 * ((u / (length * 2.5)) ** 2 + (v / (width * 4)) ** 2))
        layer = layer + (lighting.specular_gain * streak + veil)[..., None] * alpha[..., None]

    # motion during the exposure moves the object, not the desk: blur its layer and alpha
    premult = layer * alpha[..., None]
    if optics.rolling_shift != (0.0, 0.0):  # rows read later see the object further along
        dx, dy = optics.rolling_shift
        frac = by / max(h - 1, 1)
        map_x = (bx - x0 - float(dx) * frac).astype(np.float32)
        map_y = (by - y0 - float(dy) * frac).astype(np.float32)
        premult = cv2.remap(premult, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        alpha = cv2.remap(alpha, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    if optics.motion_path is not None:
        kernel = path_psf(optics.motion_path)
        premult = cv2.filter2D(premult, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        alpha = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    linear[y0:y1, x0:x1] = premult + linear[y0:y1, x0:x1] * (1 - alpha[..., None])
    return _photograph(rng, linear, optics)


def _photograph(rng: np.random.Generator, linear: np.ndarray, optics: Optics) -> np.ndarray:
    """The lens, the sensor and the ISP: linear light in, an MJPEG-decoded BGR frame out."""
    # optics: defocus disc, then the lens's own softness
    if optics.defocus_radius > 0.3:
        linear = cv2.filter2D(linear, -1, disc_psf(optics.defocus_radius))
    linear = cv2.GaussianBlur(linear, (0, 0), optics.lens_sigma)

    # sensor: a Bayer mosaic, photon shot noise (Poisson in electrons) and read noise
    full_well = 6000.0 * optics.exposure  # electrons for a white pixel at this exposure
    gain = 1.0 / max(optics.exposure, 1e-3)  # the analog gain that brings it back to white
    bayer = _mosaic(np.clip(linear, 0, 4.0))
    signal = np.clip(bayer, 0, 4.0) * full_well
    # shot noise: Poisson, drawn as its normal approximation (hundreds of electrons and up)
    electrons = signal + np.sqrt(signal) * rng.standard_normal(signal.shape, dtype=np.float32)
    electrons += rng.standard_normal(signal.shape, dtype=np.float32) * (optics.read_noise * 6000.0 / 255.0)
    raw = np.clip(electrons * gain / 6000.0, 0.0, 1.0)
    raw8 = _linear_to_srgb(raw)
    bgr = cv2.cvtColor(raw8, cv2.COLOR_BayerBG2BGR)

    # the ISP: a little sharpening, then MJPEG
    if optics.isp_sharpen > 0:
        soft = cv2.GaussianBlur(bgr, (0, 0), 1.2)
        bgr = cv2.addWeighted(bgr, 1 + optics.isp_sharpen, soft, -optics.isp_sharpen, 0)
    if optics.mirrored:
        bgr = cv2.flip(bgr, 1)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(optics.jpeg_quality)])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    return decoded if decoded is not None else bgr


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy, xx


def _mosaic(linear_bgr: np.ndarray) -> np.ndarray:
    """The single colour each photosite sees (BGGR order as OpenCV's BayerBG)."""
    h, w = linear_bgr.shape[:2]
    out = np.empty((h, w), np.float32)
    out[0::2, 0::2] = linear_bgr[0::2, 0::2, 2]  # R at (0,0) in OpenCV's BayerBG naming
    out[0::2, 1::2] = linear_bgr[0::2, 1::2, 1]
    out[1::2, 0::2] = linear_bgr[1::2, 0::2, 1]
    out[1::2, 1::2] = linear_bgr[1::2, 1::2, 0]
    return out


# --------------------------------------------------------------------------- the generator


class CameraFrameGenerator:
    """Seeded frames of every class in :data:`CAMERA_CLASSES` (see module docstring)."""

    def __init__(self, seed: int = 1, frame_size: tuple[int, int] = (1280, 720)) -> None:
        self.seed = seed
        self.frame_size = frame_size
        self.population = Population(seed)

    def _rng(self, index: int, salt: str) -> np.random.Generator:
        digest = hashlib.sha256(f"qr-camera/{self.seed}/{index}/{salt}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "big"))

    def degradation_for(self, index: int) -> str:
        return CAMERA_CLASSES[index % len(CAMERA_CLASSES)]

    def frame(self, index: int, degradation: str | None = None) -> CameraFrame:
        kind = degradation or self.degradation_for(index)
        if kind not in CAMERA_CLASSES:
            raise ValueError(f"unknown degradation {kind!r}")
        rng = self._rng(index, kind)
        citizen = self.population.citizen(index)
        payload = citizen.qr_payload()
        w, h = self.frame_size
        background = _background(rng, w, h)

        phone = kind in ("phone_screen", "phone_dark")
        obj = phone_object(rng, payload, dark=kind == "phone_dark") if phone else card_object(rng, payload)
        if phone:
            width = rng.uniform(0.2, 0.28) * w  # a phone in portrait: its QR fills ~70 % of its width
        elif kind == "far":
            width = rng.uniform(0.36, 0.48) * w  # the card's QR spans ~19 % of it: 1.2-1.8 px modules
        else:
            width = rng.uniform(0.55, 0.8) * w
        quad = _pose_quad(rng, w, h, width, rng.uniform(-15, 15), 0.08, obj.aspect)

        lighting = Lighting(
            ambient=float(rng.uniform(0.75, 1.0)),
            gradient=(float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.3, 0.3))),
            screen_brightness=float(rng.uniform(0.6, 1.3)),
            screen_reflection=float(rng.uniform(0.02, 0.1)),
        )
        optics = Optics(
            lens_sigma=float(rng.uniform(0.5, 0.8)),
            read_noise=float(rng.uniform(1.5, 3.0)),
            jpeg_quality=int(rng.integers(75, 93)),
            isp_sharpen=float(rng.uniform(0.1, 0.5)),
        )
        bend: tuple[float, int] | None = None
        qr_centre, qr_side = _qr_in_frame(obj, quad)

        if kind == "defocus":
            optics = _replace(optics, defocus_radius=float(rng.uniform(1.2, 3.0)))
        elif kind == "motion_path":
            optics = _replace(optics, motion_path=hand_path(rng, float(rng.uniform(5, 14))))
        elif kind == "low_light":
            optics = _replace(optics, exposure=float(rng.uniform(0.04, 0.12)), read_noise=float(rng.uniform(2, 4)))
        elif kind == "rolling_shutter":
            shift = float(rng.uniform(15, 45) * rng.choice([-1, 1]))
            optics = _replace(
                optics,
                rolling_shift=(shift, float(rng.uniform(-8, 8))),
                motion_path=np.array([[0.0, 0.0], [shift * 0.12, 0.0]]),  # the smear within one row's exposure
            )
        elif kind == "webcam_jpeg":
            optics = _replace(optics, jpeg_quality=int(rng.integers(22, 41)), isp_sharpen=float(rng.uniform(0.8, 1.5)))
        elif kind == "specular":
            lighting = _replace(
                lighting,
                specular=(
                    float(qr_centre[0] + rng.uniform(-0.3, 0.3) * qr_side),
                    float(qr_centre[1] + rng.uniform(-0.3, 0.3) * qr_side),
                    # a tube light 1-3 m above, mirrored in the flat laminate: a long, narrow streak
                    float(qr_side * rng.uniform(0.5, 1.2)),
                    float(qr_side * rng.uniform(0.03, 0.08)),
                    float(rng.uniform(0, np.pi)),
                ),
                specular_gain=float(rng.uniform(1.3, 3.0)),
            )
        elif kind == "shadow":
            lighting = _replace(lighting, shadow=_shadow_polygon(rng, qr_centre, qr_side),
                                shadow_depth=float(rng.uniform(0.15, 0.4)))
        elif kind == "bent":
            bend = (float(rng.uniform(0.04, 0.09) * rng.choice([-1, 1])), int(rng.integers(0, 2)))
        elif kind in ("phone_screen", "phone_dark"):
            lighting = _replace(lighting, screen_reflection=float(rng.uniform(0.04, 0.18)))
        elif kind == "mirrored":
            optics = _replace(optics, mirrored=True)

        image = render_scene(rng, background, obj, quad, lighting, optics, bend=bend)
        cx = float(w - 1 - qr_centre[0]) if optics.mirrored else float(qr_centre[0])
        return CameraFrame(index, image, payload, citizen.full_name, kind, (cx, float(qr_centre[1])), qr_side)


def _qr_in_frame(obj: SceneObject, quad: np.ndarray) -> tuple[np.ndarray, float]:
    """The QR's centre and approximate side in frame pixels."""
    th, tw = obj.texture.shape[:2]
    src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    qx, qy, side = obj.qr_box
    pts = np.array([[[qx, qy], [qx + side, qy], [qx + side, qy + side], [qx, qy + side]]], np.float32)
    mapped = cv2.perspectiveTransform(pts, m)[0]
    return mapped.mean(axis=0), float(np.linalg.norm(mapped[1] - mapped[0]))


def _shadow_polygon(rng: np.random.Generator, centre: np.ndarray, side: float) -> np.ndarray:
    """A hand's shadow: a broad shape whose edge crosses the QR."""
    angle = rng.uniform(0, 2 * np.pi)
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]])
    edge = centre + d * rng.uniform(-0.3, 0.3) * side
    far = 20 * side
    return np.array([edge - n * far, edge + n * far, edge + n * far + d * far, edge - n * far + d * far], np.float32)
