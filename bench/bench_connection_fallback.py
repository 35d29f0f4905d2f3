"""Benchmark: the insights and forecast pages when PostgreSQL has no connection to spare.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fallbench python bench/bench_connection_fallback.py --deals 10000

Both pages as of one day, cold (figure cache emptied before each request), through Django's test
client as an admin, median of --repeat requests, in two set-ups:
  * together   the figures computed side by side on helper connections (DEALGATE_ANALYTICS_THREADS=8)
  * in turn    the site's role limited to ONE connection (CONNECTION LIMIT 1, a role of its own): every
               helper is refused ("too many connections") and the request computes in turn on its own
The figures of both set-ups are compared for equality (dealgate.analytics.together, decision 032).
"""

from __future__ import annotations

import argparse
import statistics
import time

from _setup import database_label, django_setup, ensure_deals, machine_label

ROLE = "dealgate_bench_one_connection"
PAGES = {"insights": ("/insights/", ("m", "funnel", "waterfall", "bottlenecks")),
         "forecast": ("/insights/forecast/", ("result", "backtest", "accuracy"))}
AS_OF = "2026-11-24"  # a fixed day: every request has the same cutoff, so the figures compare


def limited_role() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE])
        if cursor.fetchone():
            cursor.execute(f"DROP OWNED BY {ROLE}")
            cursor.execute(f"DROP ROLE {ROLE}")
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER CONNECTION LIMIT 1")
        cursor.execute(f'GRANT CONNECT ON DATABASE "{connection.settings_dict["NAME"]}" TO {ROLE}')
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ROLE}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")


def measure(client, repeat: int) -> dict[str, tuple[float, dict]]:
    from django.core.cache import cache

    answer = {}
    for name, (url, names) in PAGES.items():
        samples, figures = [], None
        for _ in range(repeat):
            cache.clear()
            start = time.perf_counter()
            response = client.get(url, {"as_of": AS_OF})
            samples.append(time.perf_counter() - start)
            assert response.status_code == 200, (name, response.status_code)
            figures = {key: response.context[key] for key in names}
        answer[name] = (statistics.median(samples), figures)
    return answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    django_setup("fallback")
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: set DATABASE_URL to a dedicated database.")
    setup_test_environment()  # the test client records each page's context (its figures)
    deals = ensure_deals(args.deals)
    from dealgate.people.models import Profile, Role

    client = Client()
    client.force_login(Profile.objects.filter(role=Role.ADMIN).select_related("user").first().user)
    limited_role()
    with override_settings(DEALGATE_ANALYTICS_THREADS=8, ALLOWED_HOSTS=["testserver"]):
        together = measure(client, args.repeat)
        user = connection.settings_dict["USER"]
        connection.close()
        connection.settings_dict["USER"] = ROLE
        try:
            in_turn = measure(client, args.repeat)
        finally:
            connection.close()
            connection.settings_dict["USER"] = user
            with connection.cursor() as cursor:
                cursor.execute(f"DROP OWNED BY {ROLE}")
                cursor.execute(f"DROP ROLE {ROLE}")
    print(f"{deals:,} deals, {database_label()}, {machine_label()}, cold, median of {args.repeat}")
    for name in PAGES:
        same = "same figures" if together[name][1] == in_turn[name][1] else "FIGURES DIFFER"
        print(f"  {name:9} together {together[name][0] * 1000:7.0f} ms   in turn (1 connection) "
              f"{in_turn[name][0] * 1000:7.0f} ms   {same}")


if __name__ == "__main__":
    main()
