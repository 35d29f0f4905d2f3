"""The Content-Security-Policy holds in a real browser: every page renders and runs its scripts with no violation."""

from __future__ import annotations

import pytest

from dealgate.pipelines.services import create_pipeline_from_template
from tests.e2e.conftest import sign_in
from tests.e2e.test_e2e_showcase import seed_team_board

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Collected in the page itself: the browser fires this event for every blocked script, style or frame.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


def violations(page, console: list[str]) -> list[str]:
    found = page.evaluate("window.__cspViolations || []")
    return found + [text for text in console if "Content Security Policy" in text]


def test_the_main_pages_render_with_no_csp_violation(page, world):
    pipeline, deals = seed_team_board(world)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH_VIOLATIONS)
    sign_in(page, "dave", world.password)
    checks = {
        f"/board/{pipeline.key}/": ".card",
        f"/deals/{deals['Cold-chain tracking'].pk}/": "nav[aria-label='Stage path']",
        "/insights/": ".js-plotly-plot",  # plotly drew a chart: its script and styles were allowed
        "/insights/forecast/": ".js-plotly-plot",
        "/settings/audit/": "table.audit",
        "/settings/quotas/": "#quota-form",
        "/imports/": "form",
        "/api/docs": ".swagger-ui .opblock",  # Swagger UI drew the operations
    }
    for url, ready in checks.items():
        response = page.goto(url)
        assert response.status == 200, url
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")
        assert violations(page, console) == [], url
    # Scripts still run under the policy: the pipeline switch (an event listener, no inline onchange).
    second = create_pipeline_from_template("distributor-5")
    page.goto(f"/board/{pipeline.key}/")
    page.select_option("select[aria-label=Pipeline]", label=second.name)
    page.wait_for_url(f"**/board/{second.key}/")
    assert violations(page, console) == []
