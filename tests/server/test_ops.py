"""The shipped operations files: alert rules that promtool accepts and whose unit tests pass,
a Grafana dashboard whose queries parse, and every metric either uses really exported
by the server (read from a live registry over a real store, not from a list)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import update
from srvhelpers import register_fleet

from contract.heartbeat import Heartbeat
from server.db import Reader, init_db, make_engine
from server.fleet_metrics import FleetCollector, OpeningHours
from server.metrics import IngestMetrics
from server.store import Activity, EventStore

OPS = Path(__file__).resolve().parents[2] / "server" / "ops"
RULES = OPS / "alerts.yml"
DASHBOARD = OPS / "grafana-dashboard.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (apt install prometheus)")
METRIC = re.compile(r"\b(cccd[_:][a-z0-9_:]*)")
#: series Prometheus itself makes for every scrape target
PROMETHEUS_SERIES = {"up"}
READER = Reader.__table__


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False)


@needs_promtool
def test_promtool_accepts_the_alert_rules():
    out = _promtool("check", "rules", str(RULES))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 11 rules found" in out.stdout
    print(out.stdout)


@needs_promtool
def test_alert_rules_fire_when_they_should_and_not_otherwise():
    out = _promtool("test", "rules", str(OPS / "alerts_test.yml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def _dashboard_expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool parses each query as a recording rule (Grafana's variables substituted)."""
    rules = []
    for i, query in enumerate(_dashboard_expressions()):
        expr = query
        if expr.startswith("label_values("):
            expr = expr.removeprefix("label_values(").rsplit(",", 1)[0]  # Grafana's helper around a selector
        expr = expr.replace("$__rate_interval", "5m").replace("$province", ".*").replace("$district", ".*")
        rules.append({"record": f"dashboard:q{i}", "expr": expr})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    out = _promtool("check", "rules", str(path))
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_dashboard_is_grafana_json_with_a_datasource_input_and_the_local_zone():
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["__inputs"][0]["pluginId"] == "prometheus"
    assert board["timezone"] == "Asia/Ho_Chi_Minh"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    for p in board["panels"]:
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert p["targets"], p["title"]


def _fleet_store(tmp_path: Path) -> tuple[EventStore, list[str]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'server.sqlite'}")
    init_db(engine)
    store = EventStore(engine)
    codes = register_fleet(store, 6)  # six facilities over three districts, one reader each
    now = datetime.now(UTC)
    store.store([], [Activity(c, "desk-1", "heartbeat", now) for c in codes[:4]])
    store.store([], [Activity(codes[3], "desk-1", "status", now, "offline")])
    with engine.begin() as conn:  # one reader last heard two days ago; codes[5] never seen
        conn.execute(update(READER).where(READER.c.facility_code == codes[4])
                     .values(last_seen_at=now - timedelta(days=2), last_heartbeat_at=now - timedelta(days=2)))
    return store, codes


def _registry(tmp_path: Path) -> tuple[CollectorRegistry, list[str]]:
    store, codes = _fleet_store(tmp_path)
    metrics = IngestMetrics()
    now = datetime.now(UTC)
    beats = {codes[0]: json.dumps({"outbox_depth": 42, "outbox_oldest_age_s": 900.5}).encode(),
             codes[1]: json.dumps({"outbox_depth": 0, "outbox_oldest_age_s": None}).encode(),
             codes[2]: b"not json"}  # still a sign of life; its figures are left as they were
    store.store([], [Activity(c, "desk-1", "heartbeat", now, health=Heartbeat.parse(payload))
                     for c, payload in beats.items()])
    FleetCollector(store, offline_after=timedelta(minutes=15), coverage_days=7).register(metrics.registry)
    return metrics.registry, codes


def _exported_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name the registry can export, from its families (labelled or not, empty or not)."""
    suffixes = {"counter": ("_total", "_created"), "gauge": ("",),
                "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("_sum", "_count", "_created"), "info": ("_info",)}
    names = set()
    for family in registry.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
        names.update(s.name for s in family.samples)
    return names


def test_every_metric_in_the_rules_and_the_dashboard_is_exported_by_the_server(tmp_path):
    registry, _codes = _registry(tmp_path)
    exported = _exported_names(registry)
    rules_text = RULES.read_text(encoding="utf-8")
    recorded = set(re.findall(r"record:\s*(\S+)", rules_text))
    # the rules' text without comments and quoted strings (label values, annotations) holds only
    # rule names, keys and PromQL: every cccd name in it is a metric or a recorded series
    code = re.sub(r'"[^"\n]*"|#[^\n]*', "", rules_text)
    used = set(METRIC.findall(code))
    used |= {m for e in _dashboard_expressions() for m in METRIC.findall(re.sub(r'"[^"]*"', "", e))}
    assert {"cccd_reader_silent_seconds", "cccd_reader_outbox_depth", "cccd_ingest_refused_total",
            "cccd_facility_checkin_silence_seconds", "cccd:district_coverage:ratio"} <= used
    missing = used - exported - recorded
    assert not missing, f"used by rules or dashboard but not exported: {sorted(missing)}"
    assert re.search(r"\bup\{", rules_text) and PROMETHEUS_SERIES


def test_fleet_metrics_report_silent_readers_outboxes_and_coverage_from_the_store(tmp_path):
    registry, codes = _registry(tmp_path)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in registry.collect() for s in f.samples}

    def by_name(name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {labels: v for (n, labels), v in samples.items() if n == name}

    silent = {dict(k)["facility"]: (dict(k)["reason"], v) for k, v in by_name("cccd_reader_silent_seconds").items()}
    assert set(silent) == {codes[3], codes[4], codes[5]}  # the online readers are not listed
    assert silent[codes[3]][0] == "last_will"
    assert silent[codes[4]][0] == "missed_heartbeats" and silent[codes[4]][1] >= 2 * 86400 - 60
    assert silent[codes[5]][0] == "never_seen"
    states = {}
    for k, v in by_name("cccd_readers").items():
        states[dict(k)["state"]] = states.get(dict(k)["state"], 0) + v
    assert states == {"online": 3, "last_will": 1, "missed_heartbeats": 1, "never_seen": 1}
    depth = by_name("cccd_reader_outbox_depth")
    assert depth == {(("facility", codes[0]), ("reader", "desk-1")): 42}  # an empty outbox is not a series
    assert by_name("cccd_reader_outbox_oldest_age_seconds")[(("facility", codes[0]), ("reader", "desk-1"))] == 900.5
    assert by_name("cccd_fleet_outbox_events") == {(): 42}
    assert sum(by_name("cccd_district_facilities").values()) == 6
    assert sum(by_name("cccd_district_facilities_covered").values()) == 5  # heard within 7 days
    quiet = {dict(k)["facility"] for k in by_name("cccd_facility_checkin_silence_seconds")}
    assert quiet == {codes[0], codes[1], codes[2], codes[3], codes[4]}  # covered, and no check-in ever
    assert by_name("cccd_coverage_target_ratio") == {(): 1.0}


def test_opening_hours_are_judged_in_the_deployments_zone():
    hours = OpeningHours("Asia/Ho_Chi_Minh")
    assert hours.open_at(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # Tuesday 08:00 in Hanoi
    assert not hours.open_at(datetime(2026, 12, 1, 11, 0, tzinfo=UTC))  # 18:00
    assert not hours.open_at(datetime(2026, 12, 6, 2, 0, tzinfo=UTC))  # Sunday 09:00
    assert OpeningHours("Europe/Paris").open_at(datetime(2026, 12, 1, 11, 0, tzinfo=UTC))


def test_the_apps_metrics_endpoint_exports_every_metric_the_rules_and_the_dashboard_use(tmp_path):
    """The real app's /metrics, read as Prometheus reads it (HELP/TYPE lines name every family)."""
    from fastapi.testclient import TestClient
    from srvhelpers import auth, make_settings

    from server.app import create_app

    app = create_app(make_settings(f"sqlite:///{tmp_path / 'server.sqlite'}"), ingest=False)
    register_fleet(app.state.store, 3)
    with TestClient(app) as client:
        text = client.get("/metrics", headers=auth()).text
    # the text format names a counter's family with its _total (older clients without it)
    suffixes = {"counter": ("", "_total"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    exported = {name + s for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.M)
                for s in suffixes.get(kind, ("",))}
    code = re.sub(r'"[^"\n]*"|#[^\n]*', "", RULES.read_text(encoding="utf-8"))
    used = set(METRIC.findall(code)) | {m for e in _dashboard_expressions() for m in METRIC.findall(e)}
    recorded = set(re.findall(r"record:\s*(\S+)", RULES.read_text(encoding="utf-8")))
    assert not used - exported - recorded, sorted(used - exported - recorded)
    assert 'cccd_readers{district="' in text  # the fleet collector is registered in the app
