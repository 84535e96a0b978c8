"""The one catalogue: every code the product uses has a Vietnamese and an English text.

Found by reading the product's source (not a list kept by hand), so a new code without
its texts fails here before it reaches a screen.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from contract.catalogue import (
    CATALOGUE,
    DOMAIN_MESSAGES,
    METHOD_LABELS,
    TRUST_LEVEL_LABELS,
    TRUST_REASONS,
    Text,
    method_label,
    text,
    trust_level_label,
    trust_sentence,
)
from edge.domain.messages import MESSAGES
from edge.events import Method
from edge.trust.levels import TrustLevel
from edge.trust.result import REASONS, Reason

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [p for d in ("edge", "reader_drivers", "app", "server", "simulators", "contract")
           for p in sorted((ROOT / d).rglob("*.py")) if p.name != "catalogue.py"]  # it defines, not uses
# Words that are rightly the same in both languages, or Vietnamese without a diacritic.
SAME_OR_ASCII = {"screen.compare_chip", "screen.sex.M", "screen.switch_language"}
AREAS = {code.split(".", 1)[0] for code in CATALOGUE}
FILE_SUFFIXES = (".py", ".toml", ".key", ".sqlite", ".db", ".json", ".html", ".token", ".pem")
CODE_RE = re.compile(r"^[a-z_]+\.[a-z0-9_+]+$")
# Calls whose first string argument is a domain code / a bare trust-reason code.
DOMAIN_CALLS = {"QrError", "DomainError", "Finding.of", "Badge.of", "message", "text"}
REASON_CALLS = {"Reason.of"}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


def _codes_in_source() -> tuple[dict[str, str], dict[str, str]]:
    """(domain-looking string literals, trust reason codes) -> where they were found."""
    domain: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for path in PRODUCT:
        where = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE_RE.match(node.value)
                    and node.value.split(".", 1)[0] in AREAS and not node.value.endswith(FILE_SUFFIXES)):
                domain.setdefault(node.value, where)
            if isinstance(node, ast.Call) and node.args:
                name = _name(node.func)
                first = node.args[0]
                if name == "Check.make" and len(node.args) > 1:
                    first = node.args[1]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                if name in REASON_CALLS or name == "Check.make":
                    reasons.setdefault(first.value, where)
                elif name in DOMAIN_CALLS:
                    domain.setdefault(first.value, where)
    return domain, reasons


def test_the_source_is_read_and_finds_the_codes_it_should():
    domain, reasons = _codes_in_source()
    assert {"qr.empty", "chip.card_removed", "next.rescan_qr"} <= set(domain)
    assert {"revoked", "ca_failed", "crosscheck_match"} <= set(reasons)


def test_every_code_used_in_the_product_is_in_the_catalogue():
    domain, reasons = _codes_in_source()
    missing = {code: where for code, where in domain.items() if code not in CATALOGUE}
    assert not missing, missing
    missing_reasons = {code: where for code, where in reasons.items() if code not in TRUST_REASONS}
    assert not missing_reasons, missing_reasons


@pytest.mark.parametrize("area", ["dob", "issue"])
def test_the_date_codes_built_from_a_field_name_exist(area):
    for problem in ("format", "invalid_date", "future"):
        assert f"{area}.{problem}" in DOMAIN_MESSAGES


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_entry_has_both_languages(code):
    t = text(code)
    assert isinstance(t, Text) and t.vi.strip() and t.en.strip(), code
    assert t.in_language("vi") == t.vi and t.in_language("en") == t.en
    if not code.startswith("method.") and code not in SAME_OR_ASCII:  # "Chip" is the word in both languages
        assert t.vi != t.en, code
        assert not t.vi.isascii(), f"{code}: the Vietnamese text has no Vietnamese letter"


def test_every_trust_level_and_method_has_a_label_and_the_levels_a_sentence():
    assert list(TRUST_LEVEL_LABELS) == [lv.value for lv in TrustLevel]
    assert set(METHOD_LABELS) == {m.value for m in Method}
    for level in TrustLevel:
        assert trust_level_label(level) == trust_level_label(level.value)
        assert trust_sentence(level).vi
    assert method_label(Method.QR_AND_CHIP).en == "QR + chip"


def test_the_old_apis_read_the_catalogue():
    assert MESSAGES["qr.empty"] is CATALOGUE["qr.empty"]
    assert REASONS["revoked"] == (TRUST_REASONS["revoked"].en, TRUST_REASONS["revoked"].vi)
    assert Reason.of("revoked").vi == CATALOGUE["reason.revoked"].vi


def test_the_catalogue_is_read_only_and_imports_only_the_standard_library():
    with pytest.raises(TypeError):
        CATALOGUE["qr.empty"] = Text("x", "y")  # type: ignore[index]
    tree = ast.parse((ROOT / "contract" / "catalogue.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "collections", "dataclasses", "enum", "types", "typing"}
