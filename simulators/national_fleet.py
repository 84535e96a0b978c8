"""A national fleet of light simulated readers: tens of thousands of MQTT v5 connections.

Each simulated reader holds one MQTT v5 connection with its own credentials (username
``<facility>/<reader>``, the scheme the broker's pattern ACL binds to the topics), a
retained status (``online`` at connect, ``offline`` as its will), a heartbeat every
``heartbeat_s`` seconds at a random phase, and check-ins whose rate follows a clinic's
day (a morning peak, a smaller afternoon one) compressed into ``day_s`` seconds.

Why not the desk agent (``simulators.fleet``) or a client library per reader: a paho
client costs two threads' worth of state and a socket pair per reader, and asyncio
wrappers around it (aiomqtt) keep one paho client plus a once-a-second housekeeping task
per connection — 40,000 wake-ups a second for nothing. A reader here is one
``asyncio.Protocol`` (a few kilobytes) and one timer heap per process drives every
heartbeat and check-in. The wire format is MQTT v5 as the desks speak it; properties are
encoded with paho's own ``Properties`` and reason codes read with paho's ``ReasonCode``,
so only the fixed framing (five packet types) is written here.

Readers are spread over several processes (the file-descriptor limit is per process),
over several brokers (one per region: a reader's province picks its broker) and over
several loopback source addresses (one source address has about 28,000 ephemeral ports
per broker port).

    cccd-sim national --brokers mqtt://127.0.0.1:1883 --readers 40000 --processes 4 --duration 120

Its hostile twin: ``--takeover CLIENT_ID`` makes some readers connect with a clean start
under somebody else's client id (the server's, or another reader's), as a stolen or
misconfigured desk would; the broker must not let them push anyone off.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import json
import math
import multiprocessing as mp
import os
import random
import resource
import ssl
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlparse

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contract.status import LOST_PAYLOAD, STOPPED_PAYLOAD
from edge.events import CheckInEvent, Method, checkin_topic, heartbeat_topic, new_event_id, status_topic
from edge.heartbeat import HealthSnapshot
from edge.trust.levels import TrustLevel

PROVINCES = 63  # Vietnam's provinces and centrally run cities (before the 2025 merger)
READERS_PER_FACILITY = 3

# MQTT control packet first bytes (MQTT v5, section 2.1.2)
_CONNECT, _CONNACK, _PUBLISH, _PUBACK = 0x10, 0x20, 0x30, 0x40
_PINGREQ, _PINGRESP, _DISCONNECT = 0xC0, 0xD0, 0xE0


# --------------------------------------------------------------------------- identities
@dataclass(frozen=True)
class SimReader:
    facility: str
    reader: str
    province: int

    @property
    def username(self) -> str:
        """The broker identity; the pattern ACL ``cccd/v1/%u/...`` binds it to its topics."""
        return f"{self.facility}/{self.reader}"


def national_readers(count: int, per_facility: int = READERS_PER_FACILITY) -> list[SimReader]:
    """``count`` readers, ``per_facility`` to a facility, facilities dealt round-robin over
    the provinces; facility codes are 5 digits: the province (01-63) and a number."""
    facilities = math.ceil(count / per_facility)
    out: list[SimReader] = []
    for i in range(facilities):
        province = 1 + i % PROVINCES
        code = f"{province:02d}{i // PROVINCES + 1:03d}"
        for r in range(per_facility):
            if len(out) == count:
                return out
            out.append(SimReader(code, f"desk-{r + 1}", province))
    return out


def sim_password(seed: str, username: str) -> str:
    """A reader's password, derived from a fleet seed: the provisioning side (a bulk CSV
    import) and the simulator agree on 40,000 passwords without a file of secrets."""
    return hmac.new(seed.encode(), username.encode(), hashlib.sha256).hexdigest()[:32]


def broker_for(reader: SimReader, brokers: list[tuple[str, int]]) -> tuple[str, int]:
    """One broker per region: a reader's province decides which one it connects to."""
    return brokers[(reader.province - 1) * len(brokers) // PROVINCES]


# --------------------------------------------------------------------------- the day's shape
def day_rate(fraction: float) -> float:
    """Relative check-in rate at ``fraction`` of a clinic's opening day (07:00-17:00):
    a morning peak around 08:30, a smaller one after lunch, quiet over noon. Mean 1."""
    morning = math.exp(-(((fraction - 0.15) / 0.08) ** 2))
    afternoon = 0.45 * math.exp(-(((fraction - 0.7) / 0.1) ** 2))
    return (morning + afternoon + 0.05) / _DAY_MEAN


_DAY_MEAN = 0.08 * math.sqrt(math.pi) + 0.45 * 0.1 * math.sqrt(math.pi) + 0.05  # the profile's integral over [0, 1]
_DAY_PEAK = 4.0  # above the profile's maximum (1.05 / _DAY_MEAN = 3.87)


def checkin_times(rng: random.Random, per_reader_per_day: float, day_s: float, duration: float) -> Iterator[float]:
    """Offsets (s) of one reader's check-ins: a Poisson process thinned by ``day_rate``."""
    if per_reader_per_day <= 0:
        return
    peak = per_reader_per_day / day_s * _DAY_PEAK
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= duration:
            return
        if rng.random() * _DAY_PEAK < day_rate((t % day_s) / day_s):
            yield t


# --------------------------------------------------------------------------- MQTT v5 framing
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def connect_packet(
    client_id: str, username: str, password: str, *, keepalive: int, will_topic: str, will_payload: bytes,
    clean_start: bool = True, session_expiry: int = 0,
) -> bytes:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho's properties are untyped
    if session_expiry:
        props.SessionExpiryInterval = session_expiry
    # username, password, will retain, will QoS 1, will flag, clean start
    flags = 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | (0x02 if clean_start else 0)
    body = (_utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive) + props.pack()  # type: ignore[no-untyped-call]
            + _utf8(client_id) + b"\x00" + _utf8(will_topic) + struct.pack("!H", len(will_payload)) + will_payload
            + _utf8(username) + _utf8(password))
    return _packet(_CONNECT, body)


def publish_packet(topic: str, payload: bytes, *, qos: int, mid: int = 0, retain: bool = False) -> bytes:
    head = _utf8(topic) + (struct.pack("!H", mid) if qos else b"") + b"\x00"  # no properties
    return _packet(_PUBLISH | (qos << 1) | (1 if retain else 0), head + payload)


PINGREQ = bytes([_PINGREQ, 0])
DISCONNECT = bytes([_DISCONNECT, 0])


def _reason(packet_type: int, code: int) -> str:
    return str(ReasonCode(packet_type, identifier=code))


# --------------------------------------------------------------------------- one reader
@dataclass
class ProcessReport:
    readers: int = 0
    connected: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    heartbeats: int = 0
    statuses: int = 0
    checkins_sent: int = 0
    checkins_acked: int = 0
    checkins_refused: dict[str, int] = field(default_factory=dict)
    takeovers: int = 0
    connect_seconds: float = 0.0
    cpu_seconds: float = 0.0
    max_rss_mb: float = 0.0


class ReaderConnection(asyncio.Protocol):
    """One simulated reader's MQTT v5 connection: connect, birth, QoS 1 publishes, pings."""

    def __init__(self, reader: SimReader, password: str, report: ProcessReport, *, client_id: str | None = None,
                 keepalive: int = 120) -> None:
        self.reader = reader
        self.password = password
        self.report = report
        self.client_id = client_id or reader.username
        self.keepalive = keepalive
        self.transport: asyncio.Transport | None = None
        self.connack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.closed = False
        self._buf = bytearray()
        self._mid = 0
        self._inflight: dict[int, bool] = {}  # mid -> is a check-in

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(connect_packet(
            self.client_id, self.reader.username, self.password, keepalive=self.keepalive,
            will_topic=status_topic(self.reader.facility, self.reader.reader), will_payload=LOST_PAYLOAD,
        ))

    def connection_lost(self, exc: Exception | None) -> None:
        was_connected = self.connack.done() and self.connack.result() == 0 and not self.closed
        self.closed = True
        if not self.connack.done():
            self.connack.set_result(-1)
        elif was_connected:
            self.report.dropped += 1

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= 2:
            length, shift, i = 0, 0, 1
            while True:
                if i >= len(buf):
                    return
                byte = buf[i]
                length += (byte & 0x7F) << shift
                shift += 7
                i += 1
                if not byte & 0x80:
                    break
            if len(buf) < i + length:
                return
            first, body = buf[0], bytes(buf[i : i + length])
            del buf[: i + length]
            self._handle(first & 0xF0, body)

    def _handle(self, kind: int, body: bytes) -> None:
        if kind == _CONNACK and not self.connack.done():
            self.connack.set_result(body[1])
        elif kind == _PUBACK:
            mid = struct.unpack("!H", body[:2])[0]
            is_checkin = self._inflight.pop(mid, False)
            code = body[2] if len(body) > 2 else 0
            if is_checkin:
                if code < 0x80:  # 0 success, 16 no matching subscribers: the broker has it
                    self.report.checkins_acked += 1
                else:
                    name = _reason(PacketTypes.PUBACK, code)
                    self.report.checkins_refused[name] = self.report.checkins_refused.get(name, 0) + 1
        elif kind == _DISCONNECT and body:
            name = _reason(PacketTypes.DISCONNECT, body[0])
            self.report.refused[f"disconnect: {name}"] = self.report.refused.get(f"disconnect: {name}", 0) + 1

    # actions
    def publish(self, topic: str, payload: bytes, *, retain: bool = False, checkin: bool = False) -> None:
        if self.transport is None or self.closed:
            return
        self._mid = self._mid % 65535 + 1
        self._inflight[self._mid] = checkin
        self.transport.write(publish_packet(topic, payload, qos=1, mid=self._mid, retain=retain))

    def ping(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(PINGREQ)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True  # our own leaving is not a drop
            self.transport.write(DISCONNECT)
            self.transport.close()


# --------------------------------------------------------------------------- one process
@dataclass(frozen=True)
class FleetPlan:
    brokers: list[tuple[str, int]]
    readers: int
    processes: int = 4
    seed: str = "national-fleet"
    heartbeat_s: float = 60.0
    checkins_per_reader_day: float = 0.0
    day_s: float = 600.0
    duration: float = 60.0
    connect_rate: float = 2000.0  # new connections per second over all processes
    source_addresses: int = 4  # 127.0.0.1 .. 127.0.0.N
    takeover: str | None = None  # a client id that some readers try to steal
    takeovers: int = 0
    tls_ca: str | None = None  # connect over TLS, trusting this CA (the readers' listener)


def _payload(reader: SimReader, rng: random.Random) -> bytes:
    return CheckInEvent(
        event_id=new_event_id(), facility_code=reader.facility, reader_id=reader.reader,
        occurred_at=datetime.now(UTC), method=rng.choice(list(Method)), trust_level=rng.choice(list(TrustLevel)),
        citizen_pseudonym=f"{rng.getrandbits(256):064x}",
    ).to_json_bytes()


async def _run_process(plan: FleetPlan, index: int) -> ProcessReport:
    loop = asyncio.get_running_loop()
    everyone = national_readers(plan.readers)
    mine = everyone[index :: plan.processes]
    # the hostile twin's readers (process 0's last ones) hold no connection of their own,
    # so a refused or redirected takeover shows up as nobody being dropped
    thieves = mine[len(mine) - plan.takeovers :] if plan.takeover and plan.takeovers and index == 0 else []
    mine = mine[: len(mine) - len(thieves)]
    report = ProcessReport(readers=len(mine))
    rng = random.Random(f"{plan.seed}-{index}")
    conns: dict[SimReader, ReaderConnection] = {}
    health: dict[SimReader, HealthSnapshot] = {}
    interval = plan.processes / plan.connect_rate
    tls = ssl.create_default_context(cafile=plan.tls_ca) if plan.tls_ca else None
    t0 = time.monotonic()

    async def connect(n: int, reader: SimReader, client_id: str | None = None) -> ReaderConnection | None:
        host, port = broker_for(reader, plan.brokers)
        local = f"127.0.0.{1 + n % max(1, plan.source_addresses)}" if host.startswith("127.") else None
        try:
            _t, proto = await loop.create_connection(
                lambda: ReaderConnection(reader, sim_password(plan.seed, reader.username), report,
                                         client_id=client_id),
                host, port, local_addr=(local, 0) if local else None, ssl=tls,
                server_hostname="localhost" if tls else None)
        except OSError as exc:
            key = f"socket: {exc.strerror or exc}"
            report.refused[key] = report.refused.get(key, 0) + 1
            return None
        code = await proto.connack
        if code != 0:
            key = "closed" if code < 0 else _reason(PacketTypes.CONNACK, code)
            report.refused[key] = report.refused.get(key, 0) + 1
            return None
        return proto

    async def bring_up(n: int, reader: SimReader) -> None:
        proto = await connect(n, reader)
        if proto is None:
            return
        conns[reader] = proto
        report.connected += 1
        proto.publish(status_topic(reader.facility, reader.reader), b"online", retain=True)
        report.statuses += 1

    pending = []
    for n, reader in enumerate(mine):
        pending.append(asyncio.ensure_future(bring_up(n, reader)))
        await asyncio.sleep(max(0.0, t0 + (n + 1) * interval - time.monotonic()))
    await asyncio.gather(*pending)
    report.connect_seconds = time.monotonic() - t0

    # the hostile twin: steal a client id with a clean start, once per attempt
    for n, thief in enumerate(thieves):
        proto = await connect(n, thief, client_id=plan.takeover)
        report.takeovers += 1
        if proto is not None:
            proto.close()

    # One heap of (due, seq, kind, reader) drives every heartbeat, ping and check-in.
    start = time.monotonic()
    heap: list[tuple[float, int, str, SimReader]] = []
    seq = 0
    streams: dict[SimReader, Iterator[float]] = {}
    for reader in conns:
        health[reader] = HealthSnapshot(reader.facility, reader.reader, readers=["qr"])
        heap.append((start + rng.uniform(0, plan.heartbeat_s), seq, "heartbeat", reader))
        seq += 1
        stream = checkin_times(random.Random(f"{plan.seed}-{reader.username}"), plan.checkins_per_reader_day,
                               plan.day_s, plan.duration)
        streams[reader] = stream
        first = next(stream, None)
        if first is not None:
            heap.append((start + first, seq, "checkin", reader))
            seq += 1
    heapq.heapify(heap)
    end = start + plan.duration
    while heap and heap[0][0] < end:
        due, _s, kind, reader = heapq.heappop(heap)
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = conns[reader]
        if kind == "heartbeat":
            conn.publish(heartbeat_topic(reader.facility, reader.reader), health[reader].to_json_bytes())
            report.heartbeats += 1
            heapq.heappush(heap, (due + plan.heartbeat_s, seq, "heartbeat", reader))
        else:
            conn.publish(checkin_topic(reader.facility, reader.reader), _payload(reader, rng), checkin=True)
            report.checkins_sent += 1
            nxt = next(streams[reader], None)
            if nxt is not None:
                heapq.heappush(heap, (start + nxt, seq, "checkin", reader))
        seq += 1
    # let the last acknowledgements arrive, then leave cleanly (no will: the status stays)
    for _ in range(50):
        if sum(len(c._inflight) for c in conns.values()) == 0:
            break
        await asyncio.sleep(0.1)
    for conn in conns.values():
        conn.publish(status_topic(conn.reader.facility, conn.reader.reader), STOPPED_PAYLOAD, retain=True)
        conn.close()
    await asyncio.sleep(0.2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.cpu_seconds = round(usage.ru_utime + usage.ru_stime, 2)
    report.max_rss_mb = round(usage.ru_maxrss / 1024, 1)
    return report


def _process_main(plan: FleetPlan, index: int, out: mp.Queue[ProcessReport]) -> None:
    out.put(asyncio.run(_run_process(plan, index)))


def _merge(counts: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for one in counts:
        for name, n in one.items():
            merged[name] = merged.get(name, 0) + n
    return merged


def run_fleet(plan: FleetPlan) -> dict[str, object]:
    """Run the fleet in ``plan.processes`` processes; the merged report of all of them."""
    ctx = mp.get_context("spawn")
    out: mp.Queue[ProcessReport] = ctx.Queue()
    procs = [ctx.Process(target=_process_main, args=(plan, i, out)) for i in range(plan.processes)]
    started = time.monotonic()
    for p in procs:
        p.start()
    # generous: on a loaded machine the connect ramp runs slower than its nominal rate
    reports = [out.get(timeout=plan.duration + 4 * plan.readers / plan.connect_rate + 300) for _ in procs]
    for p in procs:
        p.join(30)
    total: dict[str, object] = {"seconds": round(time.monotonic() - started, 1)}
    for key in ("readers", "connected", "dropped", "heartbeats", "statuses", "checkins_sent", "checkins_acked",
                "takeovers"):
        total[key] = sum(int(getattr(r, key)) for r in reports)
    total["refused"] = _merge([r.refused for r in reports])
    total["checkins_refused"] = _merge([r.checkins_refused for r in reports])
    total["connect_seconds"] = round(max(r.connect_seconds for r in reports), 1)
    total["client_cpu_seconds"] = round(sum(r.cpu_seconds for r in reports), 1)
    total["client_max_rss_mb"] = [r.max_rss_mb for r in reports]
    return total


def parse_brokers(text: str) -> list[tuple[str, int]]:
    out = []
    for url in text.split(","):
        parsed = urlparse(url.strip())
        if parsed.scheme != "mqtt" or not parsed.hostname:
            raise ValueError(f"not an mqtt://HOST:PORT broker: {url!r}")
        out.append((parsed.hostname, parsed.port or 1883))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="cccd-sim national", description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", required=True, help="mqtt://HOST:PORT[,...]: one per region")
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    parser.add_argument("--seed", default="national-fleet", help="derives every reader's password")
    parser.add_argument("--heartbeat", type=float, default=60.0, help="seconds between a reader's heartbeats")
    parser.add_argument("--checkins-per-day", type=float, default=0.0, help="check-ins per reader per day")
    parser.add_argument("--day", type=float, default=600.0, help="seconds one clinic day lasts in the simulation")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic after everyone connected")
    parser.add_argument("--connect-rate", type=float, default=2000.0, help="new connections per second")
    parser.add_argument("--takeover", help="hostile twin: client id some readers try to take over")
    parser.add_argument("--takeovers", type=int, default=0)
    parser.add_argument("--tls-ca", help="connect over TLS (mqtts listener), trusting this CA file")
    args = parser.parse_args(argv)
    try:
        brokers = parse_brokers(args.brokers)
    except ValueError as exc:
        sys.stdout.write(json.dumps({"error": {"code": "usage", "message": str(exc)}}) + "\n")
        return 2
    if args.readers < 1 or args.processes < 1 or args.heartbeat <= 0 or args.duration < 0:
        usage = "--readers, --processes >= 1; --heartbeat > 0"
        sys.stdout.write(json.dumps({"error": {"code": "usage", "message": usage}}) + "\n")
        return 2
    plan = FleetPlan(brokers=brokers, readers=args.readers, processes=args.processes, seed=args.seed,
                     heartbeat_s=args.heartbeat, checkins_per_reader_day=args.checkins_per_day, day_s=args.day,
                     duration=args.duration, connect_rate=args.connect_rate, takeover=args.takeover,
                     takeovers=args.takeovers, tls_ca=args.tls_ca)
    sys.stdout.write(json.dumps(run_fleet(plan), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
