"""The OpenAPI document and the interactive docs, served by the app itself (no CDN)."""

from __future__ import annotations

import json
import re


def test_it_serves_the_openapi_document(client, db):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/deals/{deal_id}/move" in schema["paths"]
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "BrowserSession", "PasswordBasic"}
    password_ops = [(path, method) for path, ops in schema["paths"].items() for method, op in ops.items()
                    if any("PasswordBasic" in s for s in op.get("security", []))]
    assert password_ops == [("/api/tokens", "post")], "a password only ever mints a token"
    move = schema["paths"]["/api/deals/{deal_id}/move"]["post"]
    assert "409" in move["responses"]


def test_the_document_is_built_once_and_no_caller_can_change_the_next_callers_copy(client, db, monkeypatch):
    import ninja.main

    from dealgate.api.router import api

    builds = []
    real_build = ninja.main.get_schema
    monkeypatch.setattr(ninja.main, "get_schema", lambda **kw: builds.append(1) or real_build(**kw))
    monkeypatch.setitem(api.__dict__, "_built_schemas", {})
    first = api.get_openapi_schema()
    first["paths"].clear()
    again = api.get_openapi_schema()
    assert "/api/deals/{deal_id}/move" in again["paths"]
    assert json.loads(json.dumps(again)) == client.get("/api/openapi.json").json()
    assert api.get_openapi_schema() is not api.get_openapi_schema()
    assert len(builds) == 1


def test_the_docs_page_loads_nothing_from_another_site(client, db):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"https?://", html), "every asset of the docs page must be served locally"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 3
    for url in assets:
        assert url.startswith("/"), url
        served = client.get(url)
        assert served.status_code == 200, url
        assert b"".join(served.streaming_content) if served.streaming else served.content


def test_the_docs_point_swagger_at_the_local_schema_and_no_validator(client, db):
    html = client.get("/api/docs").content.decode()
    assert '"url": "/api/openapi.json"' in html
    assert '"validatorUrl": null' in html


def test_it_serves_only_the_listed_docs_assets(client, db):
    assert client.get("/api/docs/assets/redoc.standalone.js.map").status_code == 404
    assert client.get("/api/docs/assets/..%2F__init__.py").status_code == 404
