"""axe-core (4.14.1, vendored under tests/e2e/vendor/axe-core, tests only) on the pages a team works in: the
board, a deal page, insights and the settings pages, at 1440 and 390 px. No serious or critical violation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import shot, sign_in
from tests.e2e.test_e2e_showcase import seed_team_board

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
# WCAG 2.x A and AA rules plus axe's best practices; "serious" and "critical" fail the test.
RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => v.impact + " " + v.id + ": " + v.help + " -- " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
}"""


def axe_violations(page) -> list[str]:
    page.evaluate(AXE)  # through the DevTools protocol: the page's Content-Security-Policy does not apply
    return page.evaluate(RUN)


def test_the_main_pages_have_no_serious_or_critical_accessibility_violation(page, world):
    pipeline, deals = seed_team_board(world)
    qualify = pipeline.stages.get(key="lead-qualification")
    sign_in(page, "dave", world.password)
    checks = {
        f"/board/{pipeline.key}/": ".card",
        f"/deals/{deals['Cold-chain tracking'].pk}/": "nav[aria-label='Stage path']",
        "/insights/": ".js-plotly-plot",
        "/settings/": "#pipelines",
        f"/settings/pipelines/{pipeline.key}/": "#stages",
        f"/settings/pipelines/{pipeline.key}/?stage={qualify.pk}": "#criterion-add",
    }
    found = []
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for url, ready in checks.items():
            page.goto(url)
            page.locator(ready).first.wait_for()
            page.wait_for_load_state("networkidle")
            found += [f"{url} at {width} px: {v}" for v in axe_violations(page)]
            if url == "/insights/" or url.startswith("/settings/pipelines/"):
                shot(page, f"axe-{url.strip('/').replace('/', '-').replace('?stage=', '-stage-')}-{width}", full_page=True)
    assert found == [], "\n".join(found)


def test_the_signal_inbox_has_no_serious_or_critical_accessibility_violation(page, world):
    from tests.e2e.test_e2e_signals import seed_every_kind

    seed_every_kind(world.alice)
    sign_in(page, "alice", world.password)
    found = []
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/signals/")
        page.locator(".signal-dismiss summary").first.click()  # the dismiss form open, its label and field shown
        found += [f"/signals/ at {width} px: {v}" for v in axe_violations(page)]
        shot(page, f"axe-signals-{width}", full_page=True)
    assert found == [], "\n".join(found)
