"""Order and quote import: all or nothing, bad rows named, re-import adds nothing, new lines are added."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.deals.models import Account
from dealgate.errors import NotAllowed, ValidationFailed
from dealgate.signals.importing import import_orders, import_quotes
from dealgate.signals.models import OrderLine, Quote

HEADER = "account,order_id,ordered_at,product,product_line,quantity,revenue,margin\n"


def csv(*lines: str) -> io.BytesIO:
    return io.BytesIO((HEADER + "".join(line + "\n" for line in lines)).encode())


@pytest.fixture
def acme(db):
    return Account.objects.create(name="Acme Supply", external_id="C-100")


def test_it_imports_order_lines_matching_accounts_by_name_or_external_id(acme):
    report = import_orders(csv("acme supply,O1,2026-01-05,Bolt,Fasteners,10,100,30",
                               "C-100,O1,2026-01-05,Nut,Fasteners,5,50,"))
    assert (report.created, report.unchanged, report.written) == (2, 0, True)
    nut = OrderLine.objects.get(product="Nut")
    assert nut.account == acme and nut.margin is None and str(nut.ordered_at) == "2026-01-05"


def test_it_adds_nothing_when_the_same_file_is_imported_again_and_only_new_lines_later(acme):
    first = "Acme Supply,O1,2026-01-05,Bolt,Fasteners,10,100,30"
    import_orders(csv(first))
    again = import_orders(csv(first))
    assert (again.created, again.unchanged) == (0, 1)
    later = import_orders(csv(first, "Acme Supply,O2,2026-02-05,Bolt,Fasteners,12,120,36"))
    assert (later.created, later.unchanged) == (1, 1)
    assert OrderLine.objects.count() == 2


def test_it_names_every_bad_row_and_writes_nothing(acme):
    report = import_orders(csv(
        "Acme Supply,O1,2026-01-05,Bolt,Fasteners,10,100,30",    # row 2: good
        "Nobody Ltd,O2,2026-01-05,Bolt,Fasteners,10,100,30",     # row 3: unknown account
        "Acme Supply,O3,05/01/2026,Bolt,Fasteners,10,100,30",    # row 4: not an ISO date
        "Acme Supply,O4,2026-01-07,Bolt,Fasteners,-3,30,9",      # row 5: negative quantity, positive revenue
        "Acme Supply,R5,2026-01-08,Bolt,Fasteners,-3,-30,-9",    # row 6: a return: fine
    ))
    assert report.blocked and not report.written
    assert [(e.row, e.column) for e in report.errors] == [(3, "account"), (4, "ordered_at"), (5, "quantity")]
    assert OrderLine.objects.count() == 0


def test_it_refuses_text_it_could_not_keep_whole_instead_of_cutting_it(acme):
    report = import_orders(csv(
        "Acme Supply,O1,2026-01-05,Bolt," + "F" * 101 + ",10,100,30",   # row 2: product line too long
        "Acme Supply,O2,2026-01-05,Bo\x00lt,Fasteners,10,100,30",        # row 3: a NUL byte
    ))
    assert report.blocked and [(e.row, e.column) for e in report.errors] == [(2, "product_line"), (3, "product")]
    assert OrderLine.objects.count() == 0


def test_it_creates_unknown_accounts_only_when_asked(acme):
    report = import_orders(csv("Nobody Ltd,O2,2026-01-05,Bolt,Fasteners,10,100,30",
                               "nobody ltd,O3,2026-02-05,Bolt,Fasteners,10,100,30"), create_accounts=True)
    assert (report.created, report.accounts_created) == (2, 1)
    assert OrderLine.objects.filter(account__name="Nobody Ltd").count() == 2


def test_it_writes_nothing_on_a_dry_run(acme):
    report = import_orders(csv("Acme Supply,O1,2026-01-05,Bolt,Fasteners,10,100,30"), dry_run=True)
    assert report.rows == 1 and not report.written and OrderLine.objects.count() == 0


def test_it_refuses_a_file_without_the_required_columns_and_an_unknown_mapping(acme):
    with pytest.raises(ValidationFailed, match="lacks the column"):
        import_orders(io.BytesIO(b"account,when\nAcme Supply,2026-01-01\n"))
    with pytest.raises(ValidationFailed, match="mapping"):
        import_orders(csv(), mapping="sap")


def test_it_lets_only_managers_and_admins_import(world, acme):
    with pytest.raises(NotAllowed):
        import_orders(csv("Acme Supply,O1,2026-01-05,Bolt,Fasteners,10,100,30"), by=world.alice)
    assert import_orders(csv("Acme Supply,O1,2026-01-05,Bolt,Fasteners,10,100,30"), by=world.bob).created == 1


def test_it_imports_quotes_and_updates_a_known_quote_from_the_file(acme):
    header = "account,number,amount,issued,expires,status\n"
    first = import_quotes(io.BytesIO((header + "Acme Supply,Q-1,2500,2026-01-01,2026-01-31,open\n").encode()))
    assert first.created == 1
    second = import_quotes(io.BytesIO((header + "Acme Supply,Q-1,2500,2026-01-01,2026-01-31,won\n"
                                                "Acme Supply,Q-2,900,2026-02-01,2026-01-31,open\n").encode()))
    assert second.blocked and [(e.row, e.column) for e in second.errors] == [(3, "expires")]
    third = import_quotes(io.BytesIO((header + "Acme Supply,Q-1,2500,2026-01-01,2026-01-31,won\n").encode()))
    assert (third.created, third.updated) == (0, 1)
    assert Quote.objects.get().status == "accepted"


def test_it_imports_orders_from_the_command_line_and_exits_1_on_bad_rows(acme, tmp_path, capsys):
    good = tmp_path / "orders.csv"
    good.write_text(HEADER + "Acme Supply,O1,2026-01-05,Bolt,Fasteners,10,100,30\n")
    call_command("import", "orders", str(good), "--mapping", "generic")
    assert "1 was created" in capsys.readouterr().out or OrderLine.objects.count() == 1
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "Acme Supply,O2,yesterday,Bolt,Fasteners,10,100,30\n")
    with pytest.raises(CommandError):
        call_command("import", "orders", str(bad), "--mapping", "generic")
    assert "row 2, column 'ordered_at'" in capsys.readouterr().out
    assert OrderLine.objects.count() == 1


def test_the_audit_log_names_who_imported_what_from_the_import(acme, world):
    """Each account created, each account given order lines (how many before and after), each quote created
    or changed: by the importing manager, surface "import". A re-import that adds nothing logs nothing."""
    from dealgate.audit.models import AuditEntry

    start = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0  # the world's users

    def log():
        return list(AuditEntry.objects.filter(id__gt=start).order_by("id").values_list(
            "object_type", "object_name", "by", "surface", "action", "field", "before", "after"))

    rows = ("Acme Supply,O1,2026-01-05,Bolt,Fasteners,10,100,30", "Acme Supply,O1,2026-01-05,Nut,Fasteners,5,50,",
            "New Trading,N1,2026-01-06,Bolt,Fasteners,1,10,")
    import_orders(csv(*rows), by=world.bob, create_accounts=True)
    bob = world.bob.pk
    assert log() == [
        ("account", "New Trading", bob, "import", "created", "", "", ""),
        ("account", "Acme Supply", bob, "import", "order lines imported", "order lines", "0", "2"),
        ("account", "New Trading", bob, "import", "order lines imported", "order lines", "0", "1"),
    ]
    before = len(log())
    import_orders(csv(*rows), by=world.bob)
    assert len(log()) == before
    import_orders(csv(*rows, "Acme Supply,O2,2026-02-05,Bolt,Fasteners,12,120,36"), by=world.bob)
    assert log()[before:] == [("account", "Acme Supply", bob, "import", "order lines imported", "order lines", "2", "3")]

    quotes = "account,number,amount,issued,expires,status\nAcme Supply,Q-1,2500,2026-07-01,2026-07-31,open\n"
    import_quotes(io.BytesIO(quotes.encode()), by=world.bob)
    import_quotes(io.BytesIO(quotes.replace("2500", "2750").encode()), by=world.bob)
    import_quotes(io.BytesIO(quotes.replace("2500", "2750").encode()), by=world.bob)  # unchanged: nothing logged
    assert log()[before + 1:] == [
        ("quote", "Q-1", bob, "import", "created", "", "", "2500.00 EUR, expires 2026-07-31"),
        ("quote", "Q-1", bob, "import", "changed", "amount", "2500.00", "2750.00"),
    ]


def test_a_long_import_does_not_keep_the_text_of_every_insert(acme, monkeypatch, settings):
    """With DEBUG on (the default outside production) Django logs each query's text: an import of millions
    of lines must forget each chunk's once written, or its memory grows with the file (1.2 GB at 12M lines)."""
    from django.db import connection, reset_queries

    from dealgate.signals import importing

    settings.DEBUG = True
    monkeypatch.setattr(importing, "CHUNK", 10)
    reset_queries()
    report = import_orders(csv(*(f"Acme Supply,O{n},2026-01-05,Bolt,Fasteners,1,10,3" for n in range(45))))
    assert report.created == 45
    inserts = [q for q in connection.queries if q["sql"].startswith("INSERT") and '"signals_orderline"' in q["sql"]]
    assert len(inserts) <= 1  # the last chunk's, not the five


def test_the_summary_writes_large_counts_with_separators():
    from dealgate.imports.report import ImportReport

    report = ImportReport(kind="order lines", rows=11_992_167, created=11_982_155, unchanged=10_012,
                          accounts_created=50_000, can_skip_bad_rows=False)
    assert report.summary() == ("11,992,167 rows read.\norder lines: 11,982,155 were created, 0 updated, "
                                "10,012 unchanged; 50,000 accounts created.")
