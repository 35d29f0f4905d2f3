"""A signal scan waits for an order import still writing (PostgreSQL; decision 020).

Order-line ids come from a sequence in insert order, not commit order. Without the turn-taking, a
scan that runs while an import is still writing reads the highest committed id, records it, and
every later incremental scan looks only above it: lines committed afterwards with lower ids are
never read. Here an import writes its lines and holds its transaction open; a scan started then
must wait for it, and record a last line id that covers the import's lines.
"""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from django.db import connection, transaction

from dealgate.deals.models import Account
from dealgate.signals.importing import import_orders
from dealgate.signals.models import OrderLine, ScanState
from dealgate.signals.services import scan_signals

pytestmark = pytest.mark.postgres_only

HEADER = "account,order_id,ordered_at,product,product_line,quantity,revenue,margin\n"


@pytest.mark.django_db(transaction=True)
def test_a_scan_waits_for_an_import_still_writing_and_covers_its_lines():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: its ids follow commit order")
    Account.objects.create(name="Acme Supply", external_id="C-100")
    import_orders(io.BytesIO((HEADER + "C-100,O1,2026-01-05,Bolt,Fasteners,10,100,30\n").encode()))
    scan_signals(dt.date(2026, 2, 1))  # the first scan: from now on, scans are incremental

    written, release, scanned = threading.Event(), threading.Event(), threading.Event()
    imported_ids: list[int] = []
    failures: list[BaseException] = []

    def slow_import() -> None:
        try:
            with transaction.atomic():
                import_orders(io.BytesIO((HEADER + "C-100,O2,2026-01-19,Bolt,Fasteners,10,100,30\n").encode()))
                imported_ids.extend(OrderLine.objects.filter(order_id="O2").values_list("pk", flat=True))
                written.set()
                release.wait(30)  # the import's transaction is still open here
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)
        finally:
            connection.close()

    def scan() -> None:
        try:
            scan_signals(dt.date(2026, 2, 2))
            scanned.set()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
        finally:
            connection.close()

    importer = threading.Thread(target=slow_import)
    importer.start()
    assert written.wait(30)
    scanner = threading.Thread(target=scan)
    scanner.start()
    waited = not scanned.wait(1.5)  # the import has not committed: the scan must not have finished
    release.set()
    importer.join(30)
    scanner.join(30)
    assert not failures, failures
    assert waited, "the scan finished while an import was still writing order lines"
    assert ScanState.objects.get().last_line_id >= max(imported_ids)
