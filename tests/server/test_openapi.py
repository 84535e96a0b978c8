"""The OpenAPI schema documents every answer: each route's 200 has a JSON schema (and CSV where offered)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from srvhelpers import auth, make_settings

from server.app import create_app


def test_every_api_route_documents_its_json_answer_and_its_csv_variant(tmp_path):
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}"), ingest=False)
    with TestClient(app) as client:
        spec = client.get("/api/v1/openapi.json", headers=auth()).json()
    operations = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 8
    for path, method, op in operations:
        content = op["responses"]["200"]["content"]
        schema = content["application/json"]["schema"]
        assert schema.get("$ref") or schema.get("items", {}).get("$ref"), (method, path, schema)
        if any(p["name"] == "format" for p in op.get("parameters", [])):
            assert "text/csv" in content, (method, path)
    assert "Usage" in spec["components"]["schemas"] and "ReaderOut" in spec["components"]["schemas"]
