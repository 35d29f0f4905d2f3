import pytest
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analytics"))
from test_analytics_cli_and_pages import book  # noqa

@pytest.mark.parametrize("q", [{"period": "1000", "as_of": "2999-12-31"}, {"period": "2999-12", "as_of": "1900-01-01"},
                               {"period": "1999-q4"}, {"period": "2026", "currency": "usd", "segment": "x", "source": "inbound"}])
@pytest.mark.parametrize("path", ["/api/metrics", "/api/forecast", "/api/bottlenecks"])
def test_x(client, auth, world, book, q, path):
    r = client.get(path, q, headers=auth(world.dave))
    assert r.status_code == 200, r.content
