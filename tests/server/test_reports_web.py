"""The dashboard's and the report's HTTP routes: what they answer to bad parameters (4xx, never
500), to a viewer who is not signed in, and the content types of their downloads."""

from __future__ import annotations

import io

import openpyxl
import pytest
from fastapi.testclient import TestClient
from srvhelpers import READ_TOKEN, make_settings

from server.app import create_app
from tests.server.test_report import populate


@pytest.fixture
def app(tmp_path):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}"), ingest=False)
    populate(app.state.store)
    return app


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """A browser signed in through the dashboard's form (its session cookie kept)."""
    with TestClient(app) as c:
        answer = c.post("/dashboard/login", content=f"token={READ_TOKEN}",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
        yield c


@pytest.mark.parametrize("query", [
    "period=year", "period=custom", "period=custom&from=2026-01-01&to=2027-06-01", "period=custom&from=x&to=y",
    "period=custom&from=2026-02-01&to=2026-01-01", "date=9999-12-31", "date=0001-01-01", "refresh=2",
    "refresh=abc", "facility=../../etc", "facility=NOPE1", "province=" + "x" * 101, "province=T&district=a%0Ab",
    "district=Vũ Thư",
])
def test_dashboard_refuses_what_it_cannot_show_with_422(client, query):
    response = client.get(f"/dashboard?{query}")
    assert response.status_code == 422, (query, response.status_code)
    assert client.get(f"/dashboard/export.csv?{query}").status_code == 422


@pytest.mark.parametrize("query", ["period=2026-13", "period=2026-Q0", "period=9999-01", "format=pdf",
                                   "period=2026-Q4&province=" + "x" * 101])
def test_report_refuses_bad_parameters_with_422(client, query):
    assert client.get(f"/reports/province?{query}").status_code == 422


def test_report_page_and_its_xlsx(client):
    page = client.get("/reports/province?period=2026-Q4&province=Thái Bình")
    assert page.status_code == 200 and "Quý IV/2026" in page.text and "66,7%" in page.text
    assert page.headers["cache-control"] == "no-store"
    xlsx = client.get("/reports/province?period=2026-Q4&province=Thái Bình&format=xlsx")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="bao-cao-2026-Q4-Th-i-B-nh.xlsx"' in xlsx.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book["theo-huyen"]["A2"].value == "TP Thái Bình"


def test_exports_are_downloads_with_a_bom(client):
    csv = client.get("/dashboard/export.csv?period=quarter&date=2026-11-01&province=Thái Bình")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in csv.headers["content-disposition"]
    assert client.get("/dashboard/export.pdf").status_code == 404
    assert client.get("/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert client.get("/dashboard/static/..%2Fserver.toml").status_code == 404


def test_a_viewer_who_is_not_signed_in_is_sent_to_the_login_or_refused(app):
    client = TestClient(app)
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/dashboard/login"
    assert client.get("/reports/province", follow_redirects=False).status_code == 303
    assert client.get("/reports/province?format=xlsx").status_code == 401
    assert client.get("/dashboard/export.xlsx").status_code == 401


def test_the_dashboard_links_to_the_report_of_its_period_and_area_and_to_the_fleet(client):
    page = client.get("/dashboard?period=quarter&date=2026-11-05&province=Thái Bình&district=Vũ Thư").text
    report_link = "/reports/province?period=2026-Q4&amp;province=Th%C3%A1i+B%C3%ACnh&amp;district=V%C5%A9+Th%C6%B0"
    assert f'href="{report_link}"' in page
    assert 'href="/dashboard/fleet"' in page
    report = client.get("/reports/province?period=2026-Q4&province=Thái Bình&district=Vũ Thư")
    assert report.status_code == 200 and "Vũ Thư, Thái Bình" in report.text
