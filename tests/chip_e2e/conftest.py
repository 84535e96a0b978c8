"""Fixtures for the chip path end to end: synthetic citizens, their chips, a
trust store loaded from the test CSCA's PEM file, and (for the pcscd module)
one real pcscd with vpcd serving a card object.

The pcscd fixture (tests/conftest.py) is private to the run: its own socket,
reader.conf and card ports. Waits are generous upper bounds, never assertions
about speed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from edge.trust.store import TrustStore
from simulators.population import Population
from simulators.vcard.lds_builder import ChipProfile, build_chip_profile
from simulators.vcard.pki import TestPki, build_test_pki

SEED = 7
WAIT = 20.0


@pytest.fixture(scope="session")
def population() -> Population:
    return Population(seed=SEED)


@pytest.fixture(scope="session")
def citizen(population):
    return population.citizen(0)


@pytest.fixture(scope="session")
def other_citizen(population, citizen):
    # Another person: differs in ID, name, date of birth and sex.
    for i in range(1, 200):
        c = population.citizen(i)
        if c.sex != citizen.sex and c.date_of_birth != citizen.date_of_birth and c.full_name != citizen.full_name:
            return c
    raise AssertionError("no suitable second citizen")


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return build_test_pki(SEED)


@pytest.fixture(scope="session")
def genuine(citizen, pki) -> ChipProfile:
    return build_chip_profile(citizen, pki=pki, seed=SEED)


@pytest.fixture(scope="session")
def tampered(citizen, pki, genuine) -> ChipProfile:
    from simulators.vcard.lds_builder import tamper_dg13_profile

    return tamper_dg13_profile(genuine, citizen, SEED)


@pytest.fixture(scope="session")
def cloned(pki, genuine) -> ChipProfile:
    from simulators.vcard.lds_builder import clone_profile

    return clone_profile(genuine, SEED)


@pytest.fixture(scope="session")
def csca_pem(tmp_path_factory, pki):
    return pki.write_csca_pem(tmp_path_factory.mktemp("trust") / "csca-test.pem")


@pytest.fixture(scope="session")
def trust_store(csca_pem) -> TrustStore:
    """Loaded from the written PEM file, as a deployment loads its CSCAs."""
    return TrustStore([csca_pem])


def make_card(profile: ChipProfile):
    from simulators.vcard.cli import make_card as build

    card, _ = build(profile)
    return card


# ------------------------------------------------------------------ pcscd helpers
def wait_reader(reader: str, present: bool) -> None:
    """Wait until pcscd reports the reader with (or without) a card."""
    from reader_drivers.pcsc import wait_for_card

    if not wait_for_card(reader, present, WAIT):
        pytest.fail(f"reader never became {'present' if present else 'empty'}")


@contextlib.contextmanager
def served(card) -> Iterator[object]:
    """Put ``card`` on vpcd reader 0 until the block ends; yields the VpcdLink."""
    from simulators.services_pcsc import VPCD_READER_0
    from simulators.vcard.vpcd import VpcdLink

    wait_reader(VPCD_READER_0, present=False)
    link = VpcdLink(card).start()
    try:
        wait_reader(VPCD_READER_0, present=True)
        yield link
    finally:
        link.stop()


def load_benchmark(name: str):
    """A module of benchmarks/ loaded by path (benchmarks are scripts, not a package import)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
