"""Fixtures for the chip-trust tests.

Test data is read in place from ``<repo>/../shared/testdata`` (override with
the CCCD_TESTDATA environment variable); tests needing a variant copy and
alter it under ``tmp_path``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509

from edge.trust.store import TrustStore

REPO = Path(__file__).resolve().parents[2]
COUNTRIES = ["AT", "DE", "FI", "FR", "ID", "MY", "NZ", "PH", "RU", "SG", "UK", "US"]


def testdata_dir() -> Path:
    return Path(os.environ.get("CCCD_TESTDATA", REPO.parent / "shared" / "testdata"))


def emrtd(rel: str) -> Path:
    return testdata_dir() / "emrtd" / rel


def read(rel: str) -> bytes:
    return emrtd(rel).read_bytes()


def load_cert(rel: str) -> x509.Certificate:
    return x509.Certificate.load(read(rel))


def _load_vectors() -> dict:
    path = testdata_dir() / "icao" / "vectors.json"
    if not path.exists():
        pytest.skip(f"test data not found at {testdata_dir()} (set CCCD_TESTDATA)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def vectors() -> dict:
    return _load_vectors()


@pytest.fixture(scope="session")
def sod_vectors(vectors: dict) -> dict[str, dict]:
    return {s["id"]: s for s in vectors["sod_files"]}


def reading_date(entry: dict) -> datetime:
    """A date inside the DS (and CSCA) validity: one day after the later start."""
    start = datetime.fromisoformat(entry["expected"]["ds_not_before"])
    if entry.get("csca"):
        start = max(start, load_cert(entry["csca"])["tbs_certificate"]["validity"]["not_before"].native)
    return start + timedelta(days=1)


def covered_dgs(entry: dict) -> dict[int, bytes]:
    """The data-group files the SOD covers (per vectors.json)."""
    matches = entry["expected"].get("dg_file_hash_matches", {})
    return {int(n): read(p) for n, p in entry["dgs"].items() if matches.get(n)}


# Loading master lists takes a moment: once per session.
@pytest.fixture(scope="session")
def de_store() -> TrustStore:
    return TrustStore([emrtd("masterlists/DE_ML.ml")])


@pytest.fixture(scope="session")
def nl_store() -> TrustStore:
    return TrustStore([emrtd("masterlists/NL_ML.ml")])
