"""Every request gets an id: on its response (X-Request-ID) and on every log line written while it
runs, so one line in a log leads to everything else that request did."""

from __future__ import annotations

import io
import json
import logging
import re

from dealgate.request_ids import JsonFormatter, RequestIdFilter


def test_it_gives_each_response_a_new_request_id(client, db):
    first, second = client.get("/login/"), client.get("/login/")
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_it_keeps_the_proxys_request_id_and_replaces_a_malformed_one(client, db):
    assert client.get("/login/", headers={"X-Request-ID": "proxy-4f2a9c1e"})["X-Request-ID"] == "proxy-4f2a9c1e"
    replaced = client.get("/login/", headers={"X-Request-ID": "bad id\nwith a newline"})["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_a_log_line_written_during_the_request_carries_its_id_as_json(client, db):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("django.request")  # logs "Not Found: ..." for a 404
    logger.addHandler(handler)
    try:
        response = client.get("/no-such-page/")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and lines[0]["request_id"] == response["X-Request-ID"]
    assert lines[0]["level"] == "WARNING" and "/no-such-page/" in lines[0]["message"]
