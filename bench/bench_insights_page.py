"""Benchmark: the insights page in Debian's Chromium, as a user gets it from the production server.

    python bench/bench_insights_page.py --loads 10
    python bench/bench_insights_page.py --loads 10 --cold     # a new browser profile (empty cache) per load
    python bench/bench_insights_page.py --loads 10 --cold --tree /path/to/other/checkout   # the same, another tree

Starts `dealgate serve` (gunicorn, static files collected and gzip-compressed, no worker) on a free
port with its own data folder (bench/.data/insights-page, filled with the demo company, 1,500
deals, on first start), signs in as the demo admin in headless Chromium and opens /insights/
--loads times. Each load reports, from the page's own clock (navigation start = 0):
  * html      the page's HTML received (the server's share: the insights figures are computed here)
  * load      the load event (HTML, CSS, scripts and plotly.js fetched and run)
  * charts    every chart drawn: each [data-chart] element holds plotly's SVG (what "ready" means)
and the bytes the browser fetched for plotly.js (compressed, as sent) on the first load. The target
(issue #14): charts drawn in under 1.5 s. Prints median and worst of each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data" / "insights-page"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, tree: Path) -> subprocess.Popen:
    data = DATA if tree == ROOT else DATA.with_name(f"insights-page-{tree.name}")  # own static files per tree
    env = dict(os.environ, DEALGATE_DATA_DIR=str(data), PYTHONPATH=str(tree))
    dealgate = [sys.executable, "-c", "from dealgate.cli import main; main()"]
    server = subprocess.Popen([*dealgate, "serve", f"127.0.0.1:{port}", "--no-worker"], env=env, cwd=tree,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 900  # the first start generates the demo company
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(1)
    server.terminate()
    raise SystemExit("the server did not start in 15 minutes")


CHARTS_DRAWN = """() => { const c = [...document.querySelectorAll('[data-chart]')];
  return c.length > 0 && c.every(el => el.querySelector('svg.main-svg')); }"""


def one_load(context, base: str) -> tuple[float, float, float, int]:
    page = context.new_page()
    plotly_bytes = []
    page.on("response", lambda r: plotly_bytes.append(int(r.headers.get("content-length") or 0))
            if "plotly" in r.url else None)
    page.goto(base + "/insights/", wait_until="load")
    page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
    drawn = page.evaluate("performance.now()")
    load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    html = page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")
    page.close()
    return html / 1000, load / 1000, drawn / 1000, sum(plotly_bytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--cold", action="store_true", help="a fresh browser context (empty cache) for every load")
    parser.add_argument("--tree", type=Path, default=ROOT, help="serve this checkout's code (default: this one)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(port, args.tree.resolve())
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            samples, plotly_size = [], None

            def signed_in():
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                page.goto(base + "/login/")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", "dealgate-demo")
                page.click("button[type=submit]")
                page.wait_for_url(lambda url: "/login/" not in url)
                page.close()
                return context

            context = signed_in()
            one_load(context, base)  # warm the server (its first request imports and fills caches)
            for n in range(args.loads):
                if args.cold:
                    context.close()
                    context = signed_in()
                html, load, drawn, size = one_load(context, base)
                if plotly_size is None or args.cold:
                    plotly_size = size if n == 0 or args.cold else plotly_size
                samples.append((html, load, drawn))
            context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    htmls, loads, drawn = ([s[i] for s in samples] for i in range(3))
    print(f"insights page served from {args.tree.resolve()}, demo company (1,500 deals), {args.loads} loads, {'cold' if args.cold else 'warm'} "
          f"browser cache; machine: {os.uname().machine}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"  HTML         median {statistics.median(htmls):.2f} s, worst {max(htmls):.2f} s")
    print(f"  load event   median {statistics.median(loads):.2f} s, worst {max(loads):.2f} s")
    print(f"  charts drawn median {statistics.median(drawn):.2f} s, worst {max(drawn):.2f} s")
    print(f"  plotly.js as sent (first load{'s' if args.cold else ''}): {plotly_size:,} bytes")


if __name__ == "__main__":
    main()
