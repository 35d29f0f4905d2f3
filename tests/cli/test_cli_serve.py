"""`dealgate serve` is a production server: gunicorn with DEBUG off, compressed and cached static
files, styled error pages, and the worker beside it, all stopping together.

The server runs for real in a child process on a free port of 127.0.0.1, on SQLite in a temporary
data directory (the server, not the database, is under test here).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 180  # migrations and the first collectstatic, on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Shared by the module's servers: the second start finds the static files already collected."""
    return tmp_path_factory.mktemp("serve-data")


@pytest.fixture
def server(data_dir):
    env = dict(os.environ, DEALGATE_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    env.pop("DATABASE_URL", None)
    env.pop("DEALGATE_DEBUG", None)
    port = free_port()
    log = open(data_dir / f"serve-{port}.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "dealgate.cli", "serve", f"127.0.0.1:{port}", "--no-demo", "--workers", "1",
         "--threads", "2"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if fetch(base + "/login/")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        process.terminate()
        process.wait(timeout=60)
        log.seek(0)
        pytest.fail(f"dealgate serve did not answer /login/ within {START_SECONDS} s:\n{log.read()}")
    yield process, base, log
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=60)
    log.close()


def test_it_serves_the_login_page_with_debug_off_and_a_styled_404(server):
    _, base, _ = server
    status, _, body = fetch(base + "/login/")
    assert status == 200 and b"<form" in body
    status, _, body = fetch(base + "/no-such-page/")
    assert status == 404
    page = body.decode()
    assert "Page not found" in page and 'class="topbar"' in page
    assert "URLconf" not in page and "admin/" not in page  # DEBUG's list of URL patterns is not shown


def test_it_serves_static_files_compressed_with_hashed_names_and_a_long_cache(server):
    _, base, _ = server
    html = fetch(base + "/login/")[2].decode()
    stylesheet = re.search(r'href="(/static/web/dealgate\.[0-9a-f]{12}\.css)"', html)
    assert stylesheet, "the page links the hashed name of the stylesheet"
    status, headers, body = fetch(base + stylesheet[1], {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"] and "max-age=315360000" in headers["Cache-Control"]
    plain = (ROOT / "dealgate/web/static/web/dealgate.css").stat().st_size
    assert len(body) < plain / 2


def test_it_runs_the_worker_beside_the_server_and_stops_both_cleanly(server):
    process, base, log = server
    children = {pid: command_line(pid) for pid in children_of(process.pid)}
    assert any("gunicorn" in line for line in children.values()), children
    assert any("dealgate.cli worker" in line for line in children.values()), children
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert not [pid for pid in children if alive(pid)]
    with pytest.raises(OSError):
        fetch(base + "/login/")
    log.seek(0)
    assert "Traceback" not in log.read()
