"""Analytics never fails for lack of database connections (issue 16, decision 032).

The insights and forecast pages compute their figures side by side, each helper thread on a
connection of its own. When PostgreSQL has no connection to spare ("too many clients"), the helpers
step aside and the request computes every figure in turn on the connection it already has.

Here the site's database role is allowed ONE connection (a role of the test's own with
`CONNECTION LIMIT 1`, so other users of the server are not disturbed): the request's own. Every
helper's connection is refused, and both pages still answer 200 with exactly the figures computed
in turn on an unconstrained role.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

from test_analytics_together import busy_history

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROLE = "dealgate_one_connection"
PAGES = {  # page -> the context entries that hold its figures
    "/insights/?period=2026-Q3&as_of=2026-10-15": ("m", "funnel", "waterfall", "bottlenecks"),
    "/insights/forecast/?period=2026-Q4&as_of=2026-10-15": ("result", "backtest", "accuracy"),
}


@pytest.fixture
def one_connection_role(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("connection limits per role are PostgreSQL's")
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'")
        if cursor.fetchone():
            cursor.execute(f"DROP OWNED BY {ROLE}")
            cursor.execute(f"DROP ROLE {ROLE}")
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER CONNECTION LIMIT 1")
        cursor.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {ROLE}')
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ROLE}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    yield ROLE
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {ROLE}")
        cursor.execute(f"DROP ROLE {ROLE}")


def figures_of(client, page: str) -> dict:
    cache.clear()
    response = client.get(page)
    assert response.status_code == 200
    return {name: response.context[name] for name in PAGES[page]}


def test_the_pages_compute_in_turn_when_no_connection_is_spare(one_connection_role, world, pipeline, client):
    busy_history(world, pipeline, deals=60, seed=3)
    client.force_login(world.dave)
    with override_settings(DEALGATE_ANALYTICS_THREADS=1):
        expected = {page: figures_of(client, page) for page in PAGES}
    user = connection.settings_dict["USER"]
    connection.close()
    connection.settings_dict["USER"] = one_connection_role  # every thread's connection is made from this dict
    try:
        with override_settings(DEALGATE_ANALYTICS_THREADS=8):
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user, rolconnlimit FROM pg_roles WHERE rolname = current_user")
                assert cursor.fetchone() == (one_connection_role, 1)
            got = {page: figures_of(client, page) for page in PAGES}
    finally:
        connection.close()
        connection.settings_dict["USER"] = user
    assert got == expected
