"""Camera driver: a real video file through VideoCapture, a camera unplugged mid-stream,
newest-frame-only decoding, an image folder."""

from __future__ import annotations

import time

import cv2
import numpy as np

from reader_drivers.qr.camera import CameraSource, CaptureGrabber, parse_camera_spec
from reader_drivers.qr.source import QrSource, SourceClosed
from simulators.qr_cards import CardFrameGenerator
from simulators.qr_sources import video_file_source, write_card_video


def collect(source, limit: int = 10, timeout: float = 20.0) -> list:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < limit and time.monotonic() < deadline:
        try:
            item = source.read(timeout=0.5)
        except SourceClosed:
            break
        if item is not None:
            out.append(item)
    return out


def test_video_file_through_videocapture_each_card_once(tmp_path):
    path = tmp_path / "desk.avi"
    payloads = write_card_video(path, seed=4, count=3, frames_per_card=6, gap_frames=3, fps=25)
    source = video_file_source(path)
    assert isinstance(source, QrSource)
    got = collect(source)
    source.close()
    assert [p.text for p in got] == payloads  # in order, each card once despite 6 frames each
    assert all(p.source_id == "video:desk.avi" and p.timestamp.tzinfo for p in got)
    assert source.stats["repeats"] > 0  # the same card was seen in several frames


class FakeCapture:
    """A VideoCapture stand-in: plays ``frames`` then fails reads (the device vanished)."""

    def __init__(self, frames: list[np.ndarray], fps: float = 30) -> None:
        self.frames = list(frames)
        self.fps = fps
        self.released = False
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        if not self.frames:
            return False, None  # what VideoCapture returns once the USB camera is unplugged
        time.sleep(1 / self.fps)
        return True, self.frames.pop(0)

    def release(self) -> None:
        self.released = True


def test_camera_unplugged_mid_stream_reconnects_with_backoff():
    gen = CardFrameGenerator(seed=8)
    card0, card1 = gen.frame(0, "clean"), gen.frame(1, "clean")
    plan: list = [
        FakeCapture([card0.image] * 4),  # plugged in, then unplugged after 4 frames
        None,  # still unplugged: open fails
        RuntimeError("/dev/video0: No such device"),  # the node is gone: open raises
        FakeCapture([card1.image] * 4),  # plugged back in
    ]
    opened: list = []

    def factory(spec):
        item = plan.pop(0) if plan else None
        if isinstance(item, Exception):
            raise item
        if item is not None:
            opened.append(item)
        return item if item is not None else _Closed()

    source = CameraSource(0, width=1280, height=720, fps=30, capture_factory=factory, backoff=0.01, max_backoff=0.05)
    got = collect(source, limit=2)
    stats = source.grabber_stats
    source.close()
    assert [p.data for p in got] == [card0.payload.encode(), card1.payload.encode()]
    assert stats["disconnects"] >= 1 and stats["open_failures"] >= 2 and stats["opens"] >= 2
    assert opened[0].released
    assert opened[0].props[cv2.CAP_PROP_FRAME_WIDTH] == 1280 and opened[0].props[cv2.CAP_PROP_FPS] == 30


class _Closed:
    def isOpened(self) -> bool:
        return False


class CountingCapture(FakeCapture):
    """Frames carry their own number in the first pixel row; produced faster than consumed."""

    def __init__(self, count: int) -> None:
        super().__init__([], fps=1000)
        self.count = count
        self.n = 0

    def read(self):
        if self.n >= self.count:
            return False, None
        self.n += 1
        time.sleep(0.001)
        image = np.zeros((4, 4), np.uint16)
        image[0, 0] = self.n
        return True, image


def test_slow_consumer_always_gets_the_newest_frame_and_stale_ones_are_dropped():
    grabber = CaptureGrabber("fake-device", capture_factory=lambda s: CountingCapture(300), backoff=10)
    seen = []
    for _ in range(5):
        frame = grabber.next_frame(timeout=5)
        seen.append(frame[0])
        assert int(frame[1][0, 0]) == frame[0]  # the image is the one numbered so
        time.sleep(0.03)  # a slow decode: ~30 frames arrive meanwhile
    grabber.close()
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert seen[-1] - seen[0] > 20  # it skipped ahead instead of queueing
    assert grabber.stats["dropped"] > 0


def test_image_folder(tmp_path):
    gen = CardFrameGenerator(seed=12)
    frames = [gen.frame(i, "clean") for i in range(2)]
    for i, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), f.image)
    source = CameraSource(str(tmp_path))
    got = collect(source)
    source.close()
    assert [p.text for p in got] == [f.payload for f in frames]


def test_spec_parsing():
    assert parse_camera_spec("0") == 0 and parse_camera_spec(2) == 2
    assert parse_camera_spec("/dev/video0") == "/dev/video0"
    assert parse_camera_spec("rtsp://10.0.0.5/stream") == "rtsp://10.0.0.5/stream"


def test_still_scene_gate_skips_an_unchanged_empty_desk_but_never_for_long():
    import numpy as np

    from reader_drivers.qr.camera import StillSceneGate

    now = [0.0]
    gate = StillSceneGate(max_skip_seconds=0.5, clock=lambda: now[0])
    desk = np.full((720, 1280), 128, np.uint8)
    assert gate.should_decode(desk)
    gate.record(found=False)
    now[0] += 0.1
    assert not gate.should_decode(desk)  # nothing moved, nothing was there
    now[0] += 0.5
    assert gate.should_decode(desk)  # but decoded again within max_skip_seconds
    gate.record(found=False)
    card = desk.copy()
    card[200:500, 400:800] = 255  # something came into view
    now[0] += 0.05
    assert gate.should_decode(card)
    gate.record(found=True)
    now[0] += 0.05
    assert gate.should_decode(card)  # a card in view keeps being decoded (the debouncer needs sightings)


def test_still_gate_goes_idle_on_an_empty_desk_and_wakes_on_the_first_changed_frame():
    from reader_drivers.qr.camera import StillSceneGate

    now = [0.0]
    gate = StillSceneGate(max_skip_seconds=0.5, idle_after_seconds=2.0, idle_max_skip_seconds=5.0,
                          clock=lambda: now[0])
    desk = np.full((720, 1280), 128, np.uint8)
    assert gate.should_decode(desk)
    gate.record(found=False)
    for _ in range(30):  # 3 s of an unchanged, empty desk
        now[0] += 0.1
        if gate.should_decode(desk):
            gate.record(found=False)
    assert gate.idle
    now[0] += 1.0
    assert not gate.should_decode(desk)  # idle: the skip limit is the longer one
    card = desk.copy()
    card[200:500, 400:800] = 255
    now[0] += 0.1
    assert gate.should_decode(card) and not gate.idle  # the first changed frame is decoded at once


def test_still_gate_keeps_decoding_a_still_card_it_could_not_read_yet():
    from reader_drivers.qr.camera import StillSceneGate

    now = [0.0]
    gate = StillSceneGate(max_skip_seconds=0.5, persist_seconds=3.0, clock=lambda: now[0])
    card = np.full((720, 1280), 128, np.uint8)
    card[200:500, 400:800] = 255
    assert gate.should_decode(card)
    gate.record(found=False, candidate=True)  # a QR-like region, not decoded yet
    decoded = 0
    for _ in range(10):
        now[0] += 1 / 15
        if gate.should_decode(card):
            decoded += 1
            gate.record(found=False, candidate=True)
    assert decoded == 10  # every frame, while the region pass works through its steps
    now[0] += 5.0  # still not readable long after the card stopped moving: give up
    gate.should_decode(card)
    gate.record(found=False, candidate=True)
    now[0] += 0.1
    assert not gate.should_decode(card)


class GrabbingCapture(FakeCapture):
    """A device that supports grab()/retrieve() (as V4L2 does) and counts conversions."""

    def __init__(self, image: np.ndarray) -> None:
        super().__init__([], fps=1000)
        self.image = image
        self.grabs = self.retrieves = 0

    def grab(self) -> bool:
        time.sleep(0.002)
        self.grabs += 1
        return True

    def retrieve(self):
        self.retrieves += 1
        return True, self.image

    def read(self):
        self.grab()
        return self.retrieve()


def test_idle_grabber_grabs_every_frame_but_converts_and_hands_on_only_a_few():
    capture = GrabbingCapture(np.full((36, 64), 90, np.uint8))
    grabber = CaptureGrabber("fake-device", capture_factory=lambda s: capture, idle_fps=5.0, backoff=10)
    assert grabber.next_frame(timeout=5) is not None
    grabber.set_idle(True)
    handed = 0
    start_grabs = capture.grabs
    while capture.grabs - start_grabs < 150:
        if grabber.next_frame(timeout=0.05) is not None:
            handed += 1
    grabber.set_idle(False)
    awake = sum(grabber.next_frame(timeout=5) is not None for _ in range(5))
    grabber.close()
    assert grabber.stats["idle_skipped"] > 100  # grabbed, never converted
    assert handed < 30  # ~5 a second while idle, against ~400 a second grabbed
    assert awake == 5  # back to every frame


def test_camera_source_slows_down_on_an_empty_desk_and_reads_the_card_that_arrives():
    gen = CardFrameGenerator(seed=8)
    desk = gen.empty_frame(0).image
    card = gen.frame(0, "clean")
    state = {"card": False}

    class Desk(GrabbingCapture):
        def retrieve(self):
            self.retrieves += 1
            return True, card.image if state["card"] else desk

    capture = Desk(desk)
    source = CameraSource(0, capture_factory=lambda s: capture, fps=30, idle_fps=5.0, backoff=10)
    source.frames.realtime = False
    gate = source.gate
    gate.idle_after_seconds = 0.2
    deadline = time.monotonic() + 10
    while not gate.idle and time.monotonic() < deadline:
        source.read(timeout=0.05)
    assert gate.idle
    state["card"] = True
    got = collect(source, limit=1)
    source.close()
    assert [p.data for p in got] == [card.payload.encode()]
    assert source.grabber_stats["idle_skipped"] > 0
