"""``verify-sod`` command: JSON output and exit status."""

from __future__ import annotations

import io
import json
import shutil

from edge.trust.cli import verify_sod_main
from tests.trust.conftest import emrtd


def run(argv: list[str]) -> tuple[int, dict | None]:
    out = io.StringIO()
    code = verify_sod_main([str(a) for a in argv], out=out)
    return code, (json.loads(out.getvalue()) if out.getvalue() else None)


def test_verified_sod_exits_0_with_json():
    code, doc = run(["--trust", emrtd("gmrtd_pa/FR_CSCA.cer"), "--at", "2018-01-01", emrtd("gmrtd_pa/FR_EF_SOD.bin")])
    assert code == 0
    assert doc["level"] == "chip_verified"
    assert doc["checks"]["chain"]["reasons"][0]["code"] == "chain_anchored"
    assert doc["trust_store"]["counts"]["cscas"] == 1


def test_dg_numbers_come_from_the_first_tag_not_the_file_name(tmp_path):
    d = "bsi_tr03105_5_refdataset"
    # deliberately misleading names
    shutil.copy(emrtd(f"{d}/Datagroup1.bin"), tmp_path / "Datagroup14.bin")
    shutil.copy(emrtd(f"{d}/Datagroup14.bin"), tmp_path / "dg1.bin")
    code, doc = run(["--pinned", emrtd(f"{d}/EF_SOD_DS.cer"), "--trust", tmp_path, "--at", "2014-01-01",
                     emrtd(f"{d}/EF_SOD.bin"), tmp_path / "Datagroup14.bin", tmp_path / "dg1.bin"])  # fmt: skip
    assert code == 0, doc
    assert doc["input"]["data_group_files"] == {str(tmp_path / "Datagroup14.bin"): 1, str(tmp_path / "dg1.bin"): 14}
    assert doc["checks"]["data_group_hashes"]["details"]["data_groups"] == {"1": "match", "14": "match"}


def test_not_verified_exits_1():
    d = "bsi_tr03105_5_refdataset"
    code, doc = run(["--trust", emrtd("gmrtd_pa/DE_CSCA.cer"), "--at", "2014-01-01", emrtd(f"{d}/EF_SOD.bin"),
                     emrtd(f"{d}/Datagroup1.bin"), emrtd(f"{d}/Datagroup15.bin")])  # fmt: skip
    assert code == 1
    assert doc["level"] == "invalid"
    assert [r["code"] for r in doc["checks"]["data_group_hashes"]["reasons"]] == ["dg_not_in_sod"]


def test_usage_and_parse_errors_exit_2(tmp_path):
    sod = emrtd("gmrtd_pa/FR_EF_SOD.bin")
    trust = emrtd("gmrtd_pa/FR_CSCA.cer")
    assert run([sod])[0] == 2  # --trust missing
    assert run(["--trust", trust, "--at", "yesterday", sod])[0] == 2
    assert run(["--trust", tmp_path / "nope", sod])[0] == 2
    (tmp_path / "bad.bin").write_bytes(b"\x77\x02\x30\x00")
    assert run(["--trust", trust, tmp_path / "bad.bin"])[0] == 2
    (tmp_path / "x.bin").write_bytes(b"\x99\x00")
    assert run(["--trust", trust, sod, tmp_path / "x.bin"])[0] == 2
    assert run(["--trust", trust, sod, tmp_path / "missing.bin"])[0] == 2


def test_sod_with_bytes_after_its_der_is_refused_exit_2(tmp_path, capsys):
    sod = emrtd("gmrtd_pa/FR_EF_SOD.bin").read_bytes()
    trust = emrtd("gmrtd_pa/FR_CSCA.cer")
    for name, data in (("trailing.bin", sod + b"\x00\x00\x00"), ("junk.bin", sod + b"\x30\x00")):
        (tmp_path / name).write_bytes(data)
        assert run(["--trust", trust, "--at", "2018-01-01", tmp_path / name])[0] == 2
        assert "bytes after the object" in capsys.readouterr().err


def test_trust_path_that_loads_no_anchor_is_a_usage_error(tmp_path, capsys):
    sod = emrtd("gmrtd_pa/FR_EF_SOD.bin")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notacert.pem").write_text("hello")
    for trust in (tmp_path / "empty", tmp_path / "notacert.pem"):
        assert run(["--trust", trust, "--at", "2018-01-01", sod])[0] == 2
        assert "no trust anchor" in capsys.readouterr().err
