"""QR decoding: the project's pipeline and the single-decoder baselines it is measured against.

The pipeline (:class:`QrDecoder`) returns the *exact bytes* of every QR symbol it finds.
Text is the caller's business and is always a strict UTF-8 decode of those bytes
(:func:`strict_utf8`): CCCD QR codes are byte-mode UTF-8 without an ECI header, and any
charset guess (zbar's default is often Shift-JIS) garbles Vietnamese names.

Stages, cheapest first; a later stage runs only when every earlier one found nothing:

1. zxing-cpp on the grayscale image (local-average binariser): decodes most images in
   well under a millisecond.
2. zxing-cpp with the global-histogram binariser: rescues low-contrast and printed-on-
   fabric symbols that the local binariser breaks up.
3. zbar in binary mode (``ZBAR_CFG_BINARY``) through pyzbar's ctypes wrapper: a
   different detector, catches codes zxing misses (wrinkled, odd quiet zones).
4. Preprocessed variants (blur, 2x upscale, CLAHE contrast normalisation, Otsu
   binarisation) with zxing and zbar. Small images only (up to ``max_side``).
5. The region pass: a cheap localiser (dense edges in every direction, on a copy about
   640 px wide) finds the QR-like region; it is cut out upright (de-rotated), scaled to
   a few sizes and retried with unsharp-mask and CLAHE variants, zxing first, zbar last.
   When the region's gradients show a one-directional smear (motion blur), a Wiener
   deconvolution along the estimated direction is tried before those variants.

Camera frames skip stage 4 (whole-frame variants are costly at 1280x720) and go to the
region pass, so an empty frame costs about twice a plain zxing call.

OpenCV's own QRCodeDetector is a baseline only: in the benchmark it never decoded an
image that the stages above missed, and it costs 15-70 ms per image. OpenCV earns its
place here as the image-processing toolkit (CLAHE, warps, the localiser).
"""

from __future__ import annotations

import ctypes
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar as _pyzbar
from pyzbar import wrapper as _zw

__all__ = [
    "FIRST_STAGE_OPTIONS",
    "DecodedSymbol",
    "QrDecoder",
    "ZbarBinaryDecoder",
    "decode_first_stage",
    "decode_opencv",
    "decode_pyzbar",
    "decode_zxing",
    "strict_utf8",
    "to_gray",
]

# ZBAR_CFG_BINARY from zbar.h (enum zbar_config_e: ENABLE, ADD_CHECK, EMIT_CHECK, ASCII, BINARY).
ZBAR_CFG_BINARY = 4

_QR_FORMATS = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)  # the QR family: Model 1/2, Micro QR, rMQR

# The pipeline's first stage is exactly this zxing-cpp call, and whatever it finds is
# returned as is: the pipeline can only add to it. The census test compares the pipeline
# with :func:`decode_first_stage`, which makes the same call.
FIRST_STAGE_OPTIONS: dict[str, object] = {
    "binarizer": zxingcpp.Binarizer.LocalAverage,
    "try_rotate": True,
    "try_downscale": True,
    "try_invert": True,  # light-on-dark codes (a phone in dark mode)
    "return_errors": True,  # located-but-undecoded symbols seed the region pass
}


def strict_utf8(data: bytes) -> str | None:
    """The bytes as UTF-8 text, or None when they are not valid UTF-8 (never a guess)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def to_gray(image: np.ndarray) -> np.ndarray:
    """An 8-bit single-channel view of a BGR/BGRA/gray image."""
    if image.ndim == 3:
        if image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
        elif image.shape[2] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        else:
            image = image[:, :, 0]
    if image.dtype == np.uint16:  # a 16-bit PNG: keep the high byte, not a saturated clip
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


@dataclass(frozen=True)
class DecodedSymbol:
    """One decoded QR symbol: its raw bytes and which decoder and stage produced them."""

    data: bytes
    decoder: str
    stage: str = ""
    # Corner points (x, y) in the input image's coordinates, when the decoder reports them.
    points: tuple[tuple[float, float], ...] = field(default=(), compare=False)

    @property
    def text(self) -> str | None:
        return strict_utf8(self.data)


# --------------------------------------------------------------------------- zbar (binary)


class ZbarBinaryDecoder:
    """zbar with binary mode on: returns the symbol's bytes untouched (no charset guess).

    One scanner is created and reused (creating it costs more than scanning a small image).
    Not thread-safe: use one instance per thread.
    """

    def __init__(self) -> None:
        self._scanner = _zw.zbar_image_scanner_create()
        # Only QR: disabling the 1-D symbologies makes zbar several times faster.
        _zw.zbar_image_scanner_set_config(self._scanner, 0, _zw.ZBarConfig.CFG_ENABLE, 0)
        _zw.zbar_image_scanner_set_config(
            self._scanner, _zw.ZBarSymbol.QRCODE, _zw.ZBarConfig.CFG_ENABLE, 1
        )
        _zw.zbar_image_scanner_set_config(self._scanner, _zw.ZBarSymbol.QRCODE, ZBAR_CFG_BINARY, 1)

    def __del__(self) -> None:
        scanner = getattr(self, "_scanner", None)
        if scanner:
            _zw.zbar_image_scanner_destroy(scanner)
            self._scanner = None

    def decode(self, gray: np.ndarray) -> list[DecodedSymbol]:
        gray = to_gray(gray)
        height, width = gray.shape
        pixels = gray.tobytes()
        image = _zw.zbar_image_create()
        try:
            _zw.zbar_image_set_format(image, _pyzbar._FOURCC["L800"])
            _zw.zbar_image_set_size(image, width, height)
            _zw.zbar_image_set_data(image, ctypes.cast(ctypes.c_char_p(pixels), ctypes.c_void_p), len(pixels), None)
            if _zw.zbar_scan_image(self._scanner, image) <= 0:
                return []
            found: list[DecodedSymbol] = []
            symbol = _zw.zbar_image_first_symbol(image)
            while symbol:
                length = _zw.zbar_symbol_get_data_length(symbol)
                data = ctypes.string_at(_zw.zbar_symbol_get_data(symbol), length)
                points = tuple(
                    (float(_zw.zbar_symbol_get_loc_x(symbol, i)), float(_zw.zbar_symbol_get_loc_y(symbol, i)))
                    for i in range(_zw.zbar_symbol_get_loc_size(symbol))
                )
                found.append(DecodedSymbol(data, "zbar", points=points))
                symbol = _zw.zbar_symbol_next(symbol)
            return found
        finally:
            _zw.zbar_image_destroy(image)


# --------------------------------------------------------------------------- baselines


def _patch_pyzbar_orientation() -> None:
    """pyzbar 0.1.9 raises ValueError when zbar reports orientation -1 (unknown).

    That crash would count against pyzbar in the benchmark for a reason that has nothing
    to do with decoding, so the baseline maps the unknown orientation to 0 (UP).
    """
    original = _pyzbar.zbar_symbol_get_orientation
    if getattr(original, "_cccd_patched", False):
        return

    def safe(symbol):  # type: ignore[no-untyped-def]
        value = original(symbol)
        return value if 0 <= value <= 3 else 0

    safe._cccd_patched = True  # type: ignore[attr-defined]
    _pyzbar.zbar_symbol_get_orientation = safe


def decode_pyzbar(image: np.ndarray) -> list[DecodedSymbol]:
    """Baseline: pyzbar as most projects call it (default text mode, charset guessed)."""
    _patch_pyzbar_orientation()
    return [
        DecodedSymbol(r.data, "pyzbar")
        for r in _pyzbar.decode(to_gray(image), symbols=[_pyzbar.ZBarSymbol.QRCODE])
    ]


@functools.cache
def _opencv_detector() -> cv2.QRCodeDetector:  # created on first use
    return cv2.QRCodeDetector()


def decode_opencv(image: np.ndarray) -> list[DecodedSymbol]:
    """Baseline: OpenCV's QRCodeDetector.detectAndDecode on the grayscale image."""
    try:
        text, _, _ = _opencv_detector().detectAndDecode(to_gray(image))
    except (cv2.error, UnicodeDecodeError):  # Hanzi mode unsupported; non-UTF-8 bytes
        return []
    if not text:
        return []
    return [DecodedSymbol(text.encode("utf-8", "surrogateescape"), "opencv")]


def decode_zxing(image: np.ndarray, **options: Any) -> list[DecodedSymbol]:
    """Baseline: zxing-cpp read_barcodes with its defaults, restricted to the QR family."""
    return [
        DecodedSymbol(bytes(r.bytes), "zxing", points=_zx_points(r))
        for r in zxingcpp.read_barcodes(to_gray(image), formats=_QR_FORMATS, **options)
        if r.valid
    ]


def decode_first_stage(image: np.ndarray) -> list[DecodedSymbol]:
    """zxing-cpp with the options of the pipeline's first stage (valid symbols only)."""
    return [
        DecodedSymbol(bytes(r.bytes), "zxing", "zxing", _zx_points(r))
        for r in zxingcpp.read_barcodes(to_gray(image), formats=_QR_FORMATS, **FIRST_STAGE_OPTIONS)  # type: ignore[arg-type]
        if r.valid
    ]


def _zx_points(result: zxingcpp.Barcode) -> tuple[tuple[float, float], ...]:
    p = result.position
    return tuple((float(c.x), float(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))


# --------------------------------------------------------------------------- the pipeline


class QrDecoder:
    """The project's decode pipeline. ``decode(image)`` returns every symbol's bytes.

    ``max_side``: images up to this size (longer side, pixels) get the whole-image
    fallbacks; larger ones (camera frames) go straight to the region pass, which keeps an
    empty frame cheap. ``max_regions``: how many candidate regions the region pass tries.
    ``fallbacks``: set False for the cheapest possible pass (a busy frame loop may do this
    on every other frame). Not thread-safe (one zbar scanner inside): one per thread.
    """

    def __init__(self, *, max_side: int = 1000, fallbacks: bool = True, max_regions: int = 1,
                 budget_ms: float | None = None) -> None:
        self.max_side = max_side
        self.max_regions = max_regions
        self.fallbacks = fallbacks
        # A live camera gives the next frame anyway: past this time a frame's fallbacks
        # stop (the cheap first pass always runs), so the loop keeps up with the camera.
        self.budget_ms = budget_ms
        self._deadline = float("inf")
        self._zbar = ZbarBinaryDecoder()
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self.last_stage: str | None = None  # which stage succeeded on the last call (for stats)
        self._bookmark: tuple[Rect, int] | None = None  # where a budgeted region pass stopped
        # the last call found a QR-like region it could not decode (a live loop keeps trying)
        self.saw_candidate = False
        self.roi_detail: str | None = None

    # -- public ------------------------------------------------------------------------

    def decode(self, image: np.ndarray) -> list[DecodedSymbol]:
        """All QR symbols found in ``image`` (BGR or gray), de-duplicated, in stage order."""
        self._deadline = time.perf_counter() + self.budget_ms / 1000 if self.budget_ms else float("inf")
        gray = to_gray(image)
        self.last_stage = None
        self.saw_candidate = False
        candidates: list[np.ndarray] = []  # quads located but not decoded, for the ROI pass

        found = self._first_stage(gray, candidates)
        if found or not self.fallbacks:
            return self._done(found, "zxing")

        # Small images (a crop, a scanner's view, a photo of one code): whole-image
        # variants are cheap and catch what the first pass missed.
        if max(gray.shape) <= self.max_side:
            for name, stage in self._fallback_stages(gray, candidates):
                if self._out_of_time():
                    return []
                found = stage()
                if found:
                    return self._done(found, name)

        # Camera frames (and small images still undecoded): find QR-like regions, then
        # de-rotate, crop and upscale each one and retry with sharpening variants.
        # The localiser's regions first: zxing's undecodable "symbols" are often noise.
        regions = localise_qr_regions(gray) + [_quad_rect(q) for q in candidates]
        self.saw_candidate = bool(regions)
        for rect in regions[: self.max_regions]:
            if self._out_of_time():
                return []
            found = self._roi_pass(gray, rect)
            if found:
                return self._done(found, "roi")
        return []

    def decode_bytes(self, image: np.ndarray) -> list[bytes]:
        """Just the payload bytes of :meth:`decode`."""
        return [s.data for s in self.decode(image)]

    # -- stages ------------------------------------------------------------------------

    def _fallback_stages(
        self, gray: np.ndarray, candidates: list[np.ndarray]
    ) -> list[tuple[str, Callable[[], list[DecodedSymbol]]]]:
        zx = self._zx
        gh = zxingcpp.Binarizer.GlobalHistogram
        la = zxingcpp.Binarizer.LocalAverage
        lazy: dict[str, np.ndarray] = {}

        def variant(name: str) -> np.ndarray:
            if name not in lazy:
                lazy[name] = _VARIANTS[name](gray, self)
            return lazy[name]

        return [
            ("zxing-gh", lambda: zx(gray, "zxing-gh", gh, candidates)),
            ("zbar", lambda: self._zb(gray, "zbar")),
            ("blur-gh", lambda: zx(variant("blur"), "blur-gh", gh)),
            ("up2-gh", lambda: zx(variant("up2"), "up2-gh", gh, scale=gray.shape[0] / variant("up2").shape[0])),
            ("clahe-gh", lambda: zx(variant("clahe"), "clahe-gh", gh)),
            ("otsu", lambda: zx(variant("otsu"), "otsu", la)),
            ("blur-zbar", lambda: self._zb(variant("blur"), "blur-zbar")),
            ("clahe-zbar", lambda: self._zb(variant("clahe"), "clahe-zbar")),
        ]

    def _first_stage(self, gray: np.ndarray, candidates: list[np.ndarray]) -> list[DecodedSymbol]:
        out = []
        for r in zxingcpp.read_barcodes(gray, formats=_QR_FORMATS, **FIRST_STAGE_OPTIONS):  # type: ignore[arg-type]
            if r.valid:
                out.append(DecodedSymbol(bytes(r.bytes), "zxing", "zxing", _zx_points(r)))
            else:
                candidates.append(np.array(_zx_points(r), dtype=np.float32))
        return out

    def _zx(
        self,
        gray: np.ndarray,
        stage: str,
        binarizer: zxingcpp.Binarizer,
        candidates: list[np.ndarray] | None = None,
        scale: float = 1.0,
        fast: bool = False,
    ) -> list[DecodedSymbol]:
        # fast: an upright crop of known scale needs neither zxing's rotations nor its
        # downscaled retries, which cost more than the decode itself.
        results = zxingcpp.read_barcodes(
            gray,
            formats=_QR_FORMATS,
            binarizer=binarizer,
            return_errors=candidates is not None,
            try_rotate=not fast,
            try_downscale=not fast,
        )
        out = []
        for r in results:
            if r.valid:
                sym = DecodedSymbol(bytes(r.bytes), "zxing", stage, _zx_points(r))
                out.append(_rescale(sym, scale) if scale != 1.0 else sym)
            elif candidates is not None:
                candidates.append(np.array(_zx_points(r), dtype=np.float32))
        return out

    def _zb(self, gray: np.ndarray, stage: str) -> list[DecodedSymbol]:
        return [DecodedSymbol(s.data, "zbar", stage, s.points) for s in self._zbar.decode(gray)]

    # The region pass's attempts, in order: (crop size px, variant, decoder). Chosen by a
    # greedy cover over the synthetic set's frames that plain zxing missed, weighing each
    # attempt's rescues against its cost: zxing on a small sharpened crop rescues most for
    # ~0.2 ms; zbar is slower (2-3 ms) and only runs last.
    ROI_ATTEMPTS: tuple[tuple[int, str, str], ...] = (
        (256, "sharp2", "zxing-la"),
        (320, "denoise", "zxing-gh"),  # shot noise at high gain (a dim desk)
        (256, "clahe", "zxing-la"),
        (480, "sharp2", "zxing-la"),
        (480, "sharp1", "zxing-la"),
        (640, "sharp1", "zxing-la"),
        (640, "sharp2", "zxing-gh"),
        (256, "denoise", "zxing-la"),
        (256, "clahe", "zbar"),
        (320, "sharp1", "zbar"),
    )

    def _roi_pass(self, gray: np.ndarray, rect: Rect) -> list[DecodedSymbol]:
        """Cut the rotated region out upright at a few sizes, try restorations and variants.

        The attempts are a fixed sequence of steps. Under a time budget, a frame that runs
        out of time leaves a bookmark; the next frame, when its region is where this one's
        was (a card held still), starts at the bookmark. A card held in view for a second
        thus gets the whole sequence spread over its frames, one budget at a time.
        """
        steps = self._roi_steps(gray, rect)
        start = self._resume_step(rect, len(steps))
        for k in range(len(steps)):
            index = (start + k) % len(steps)
            if self._out_of_time():
                self._bookmark = (rect, index)
                return []
            name, step = steps[index]
            found = step()
            if found:
                self._bookmark = None
                self.roi_detail = name
                return found
        self._bookmark = None
        return []

    def _resume_step(self, rect: Rect, count: int) -> int:
        if self._bookmark is None:
            return 0
        (px, py), (pw, ph), _ = self._bookmark[0]
        (cx, cy), (w, h), _ = rect
        size = max(pw, ph, 1.0)
        same_place = np.hypot(cx - px, cy - py) < 0.2 * size and abs(max(w, h) - size) < 0.2 * size
        return self._bookmark[1] % count if same_place else 0

    def _roi_steps(self, gray: np.ndarray, rect: Rect) -> list[tuple[str, Callable[[], list[DecodedSymbol]]]]:
        steps: list[tuple[str, Callable[[], list[DecodedSymbol]]]] = []
        # modules under ~2 px: aliasing looks like a smear, and no filter restores them
        if max(rect[1]) >= self.DEBLUR_MIN_REGION:
            crop, inverse = _upright_crop(gray, rect, self.DEBLUR_TARGET)
            anisotropy, direction = _smear_direction(crop)
            crop_scale = self.DEBLUR_TARGET / (max(rect[1][0], rect[1][1], 1.0) * 1.35)
            spectrum: list[np.ndarray] = []  # computed once, by the first restoration that runs

            def restore(kernel_for: Callable[[], np.ndarray], noise: float) -> list[DecodedSymbol]:
                if not spectrum:
                    spectrum.append(_spectrum(crop))
                restored = _wiener(spectrum[0], kernel_for(), noise)
                found = self._zx(restored, "roi", zxingcpp.Binarizer.LocalAverage, fast=True)
                return [_transform(s, inverse) for s in found]

            # a QR's gradients go every way; a smeared one's do not
            if anisotropy >= 0.25:  # motion blur: unsharp masks rarely help, deconvolution often does
                for length, noise in self.DEBLUR_STEPS:
                    steps.append((f"deblur-{length:g}", functools.partial(
                        restore, functools.partial(_line_psf, max(2.0, length * crop_scale), direction), noise)))
            else:  # an out-of-focus lens spreads each point over a disc: undo that disc
                for radius in self.DEFOCUS_RADII:
                    steps.append((f"defocus-{radius:g}", functools.partial(
                        restore, functools.partial(_disc_psf, radius * crop_scale), self.DEBLUR_NOISE)))

        crops: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        variants: dict[tuple[int, str], np.ndarray] = {}

        def attempt(target: int, variant: str, decoder: str) -> list[DecodedSymbol]:
            if target not in crops:  # a direct warp per size: better than resizing one crop
                crops[target] = _upright_crop(gray, rect, target)
            crop, inverse = crops[target]
            key = (target, variant)
            if key not in variants:
                variants[key] = _ROI_VARIANTS[variant](crop, self)
            image = variants[key]
            if decoder == "zbar":
                found = self._zb(image, "roi")
            else:
                gh = decoder == "zxing-gh"
                binarizer = zxingcpp.Binarizer.GlobalHistogram if gh else zxingcpp.Binarizer.LocalAverage
                found = self._zx(image, "roi", binarizer, fast=True)
            return [_transform(s, inverse) for s in found]

        for target, variant, decoder in self.ROI_ATTEMPTS:
            steps.append((f"{target}-{variant}-{decoder}", functools.partial(attempt, target, variant, decoder)))
        return steps

    # Motion-blur restorations tried: (smear length in frame pixels, Wiener noise-to-signal).
    # A card moving during a 1/30-1/60 s exposure smears by a few modules' worth. A clean,
    # well-lit frame bears an aggressive restoration (0.005); a noisy webcam frame with JPEG
    # blocks needs a cautious one (0.02), which trusts its high frequencies less.
    DEBLUR_STEPS: tuple[tuple[float, float], ...] = ((8.0, 0.005), (6.0, 0.02), (3.0, 0.02), (10.0, 0.005))
    # defocus restorations use the cautious level: a defocused frame has little signal left
    # at the frequencies where the noise is
    DEBLUR_NOISE = 0.02
    DEBLUR_TARGET = 320
    # Defocus disc radii tried, in frame pixels: a webcam focused at arm's length and a
    # card held 10-15 cm closer blurs each point over a disc of 1-3 px at 720p.
    DEFOCUS_RADII = (1.5, 2.0)
    DEBLUR_MIN_REGION = 110  # px: a version 7-10 QR this small has modules under 2 px

    # -- helpers -----------------------------------------------------------------------

    def _out_of_time(self) -> bool:
        return time.perf_counter() > self._deadline

    def _done(self, found: list[DecodedSymbol], stage: str) -> list[DecodedSymbol]:
        seen: set[bytes] = set()
        unique = []
        for s in found:
            if s.data not in seen:
                seen.add(s.data)
                unique.append(s if s.stage else DecodedSymbol(s.data, s.decoder, stage, s.points))
        if unique:
            self.last_stage = stage
        return unique


Rect = tuple[tuple[float, float], tuple[float, float], float]  # cv2.minAreaRect's shape


def localise_qr_regions(gray: np.ndarray, *, factor: int | None = None, limit: int = 3) -> list[Rect]:
    """Regions that look like a QR symbol: dense edges in *every* direction.

    Text lines and card edges have strong gradients across them only; a QR has them in
    all directions everywhere. Works on a copy about 640 px wide (~2 ms per frame).
    Returns rotated rectangles (centre, size, angle) in full-image coordinates, largest
    first.
    """
    h, w = gray.shape
    if factor is None:  # work at about 640 px wide: half of 1280x720, a third of 1920x1080
        factor = max(1, round(max(h, w) / 640))
    small = cv2.resize(gray, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    sx = cv2.Sobel(small, cv2.CV_16S, 1, 0)
    sy = cv2.Sobel(small, cv2.CV_16S, 0, 1)
    # Edge energy along x, y and both diagonals; a QR has all four, a line of text (at
    # any angle) lacks at least one: text at 45 degrees has x and y edges but only one
    # diagonal.
    energies = [
        cv2.boxFilter(cv2.convertScaleAbs(g), -1, (9, 9))
        for g in (sx, sy, cv2.add(sx, sy), cv2.subtract(sx, sy))
    ]
    both = cv2.min(cv2.min(energies[0], energies[1]), cv2.min(energies[2], energies[3]))
    high = float(np.percentile(both, 99.7))
    _, mask = cv2.threshold(both, max(12.0, high * 0.5), 255, cv2.THRESH_BINARY)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    scored = []
    for c in contours:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(c)
        if min(rw, rh) < 10 or max(rw, rh) > 1.8 * min(rw, rh):  # too small or not square-ish
            continue
        fill = cv2.contourArea(c) / (rw * rh + 1e-6)
        if fill < 0.55:
            continue
        scored.append((rw * rh * fill, ((cx * factor, cy * factor), (rw * factor, rh * factor), angle)))
    scored.sort(key=lambda t: -t[0])
    return [r for _, r in scored[:limit]]


def _quad_rect(quad: np.ndarray) -> Rect:
    (cx, cy), (rw, rh), angle = cv2.minAreaRect(quad.astype(np.float32))
    return ((cx, cy), (rw, rh), angle)


def _upright_crop(gray: np.ndarray, rect: Rect, target: int, margin: float = 1.35) -> tuple[np.ndarray, np.ndarray]:
    """The rect de-rotated into a ``target``-pixel square; also the inverse affine map."""
    (cx, cy), (rw, rh), angle = rect
    scale = target / (max(rw, rh, 1.0) * margin)
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[0, 2] += target / 2 - cx
    m[1, 2] += target / 2 - cy
    crop = cv2.warpAffine(gray, m, (target, target), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return crop, cv2.invertAffineTransform(m)


def _smear_direction(image: np.ndarray) -> tuple[float, float]:
    """(anisotropy 0..1, smear angle in radians) from the structure tensor.

    A smear flattens gradients along its direction, so the direction of least gradient
    energy is the direction of motion.
    """
    f = image.astype(np.float32)
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = float((gx * gx).mean()), float((gy * gy).mean()), float((gx * gy).mean())
    trace = jxx + jyy
    if trace <= 0:
        return 0.0, 0.0
    spread = float(np.sqrt(max(trace * trace / 4 - (jxx * jyy - jxy * jxy), 0.0)))
    strongest = 0.5 * float(np.arctan2(2 * jxy, jxx - jyy))
    return 2 * spread / trace, strongest + np.pi / 2


def _line_psf(length: float, angle: float, size: int = 31) -> np.ndarray:
    """A normalised straight-line point-spread function."""
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    half = min(length, size - 1) / 2
    for t in np.linspace(-half, half, max(2, int(length * 4))):
        kernel[round(c + t * np.sin(angle)), round(c + t * np.cos(angle))] += 1
    result: np.ndarray = kernel / kernel.sum()
    return result


def _disc_psf(radius: float, size: int = 31) -> np.ndarray:
    """A normalised disc point-spread function (a defocused lens), anti-aliased at its rim."""
    c = size // 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - c
    kernel = np.clip(min(radius, c - 1) + 0.5 - np.sqrt(xx**2 + yy**2), 0.0, 1.0)
    disc: np.ndarray = kernel / kernel.sum()
    return disc


def _spectrum(image: np.ndarray) -> np.ndarray:
    """The DFT of an 8-bit image scaled to 0..1 (OpenCV's single-precision DFT: a
    fraction of numpy's double-precision cost on a 320 px crop)."""
    spectrum: np.ndarray = cv2.dft(image.astype(np.float32) / 255.0, flags=cv2.DFT_COMPLEX_OUTPUT)
    return spectrum


def _wiener(image_spectrum: np.ndarray, kernel: np.ndarray, noise_to_signal: float) -> np.ndarray:
    """Wiener deconvolution of an image given as its :func:`_spectrum`; the kernel is
    centred on the origin. Returns the restored 8-bit image."""
    h, w = image_spectrum.shape[:2]
    padded = np.zeros((h, w), np.float32)
    k = kernel.shape[0]
    padded[:k, :k] = kernel
    padded = np.roll(padded, (-(k // 2), -(k // 2)), axis=(0, 1))
    kernel_spectrum = cv2.dft(padded, flags=cv2.DFT_COMPLEX_OUTPUT)
    # X * conj(K) / (|K|^2 + nsr)
    numerator = cv2.mulSpectrums(image_spectrum, kernel_spectrum, 0, conjB=True)
    power = kernel_spectrum[..., 0] ** 2 + kernel_spectrum[..., 1] ** 2 + noise_to_signal
    restored_spectrum = numerator / power[..., None]
    restored = cv2.idft(restored_spectrum, flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)
    out: np.ndarray = np.clip(restored * 255.0, 0, 255).astype(np.uint8)
    return out


def _transform(sym: DecodedSymbol, affine: np.ndarray) -> DecodedSymbol:
    if not sym.points:
        return sym
    pts = np.array(sym.points, np.float32).reshape(-1, 1, 2)
    mapped = cv2.transform(pts, affine).reshape(-1, 2)
    return DecodedSymbol(sym.data, sym.decoder, sym.stage, tuple((float(x), float(y)) for x, y in mapped))


def _rescale(sym: DecodedSymbol, factor: float) -> DecodedSymbol:
    if not sym.points:
        return sym
    return DecodedSymbol(sym.data, sym.decoder, sym.stage, tuple((x * factor, y * factor) for x, y in sym.points))


_ROI_VARIANTS: dict[str, Callable[[np.ndarray, QrDecoder], np.ndarray]] = {
    "raw": lambda c, d: c,
    # unsharp masks: undo defocus and motion blur before binarising
    "sharp1": lambda c, d: cv2.addWeighted(c, 2.0, cv2.GaussianBlur(c, (0, 0), 2.0), -1.0, 0),
    "sharp2": lambda c, d: cv2.addWeighted(c, 3.0, cv2.GaussianBlur(c, (0, 0), 1.5), -2.0, 0),
    "clahe": lambda c, d: d._clahe.apply(c),  # contrast normalisation: glare, low light
    # low light: a low-pass at about half a module takes the shot noise out, the band-pass
    # that follows restores the module edges the low-pass softened (a difference of Gaussians)
    "denoise": lambda c, d: cv2.addWeighted(
        cv2.GaussianBlur(c, (0, 0), 1.0), 2.5, cv2.GaussianBlur(c, (0, 0), 2.5), -1.5, 0
    ),
}

_VARIANTS: dict[str, Callable[[np.ndarray, QrDecoder], np.ndarray]] = {
    "blur": lambda g, d: cv2.GaussianBlur(g, (3, 3), 0),
    "up2": lambda g, d: cv2.resize(g, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    if max(g.shape) <= 700
    else g,
    "clahe": lambda g, d: d._clahe.apply(g),
    "otsu": lambda g, d: cv2.threshold(cv2.GaussianBlur(g, (3, 3), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1],
}

