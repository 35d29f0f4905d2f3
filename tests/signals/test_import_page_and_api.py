"""Order and quote import from the app's import page and the API: the same all-or-nothing import as the CLI."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dealgate.deals.models import Account
from dealgate.signals.models import OrderLine, Quote

ORDERS = ("account,order_id,ordered_at,product,product_line,quantity,revenue,margin\n"
          "Acme Supply,O1,2026-01-05,Bolt,Fasteners,10,100,30\n"
          "Acme Supply,O2,2026-02-05,Bolt,Fasteners,10,100,30\n")
BAD_ORDERS = ORDERS + "Acme Supply,O3,05/03/2026,Bolt,Fasteners,10,100,30\nNobody Ltd,O4,2026-03-05,Nut,,1,5,\n"
QUOTES = "account,number,amount,issued,expires,status\nAcme Supply,Q-1,2500,2026-01-02,2026-02-01,sent\n"


@pytest.fixture(autouse=True)
def uploads_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def upload(text: str, name: str = "orders.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_a_manager_dry_runs_then_imports_orders_on_the_import_page(client, world, tmp_path):
    Account.objects.create(name="Acme Supply")
    client.login(username="bob", password=world.password)
    page = client.get("/imports/")
    assert b"Orders and quotes" in page.content and b'action="/imports/orders-and-quotes/' in page.content
    dry = client.post("/imports/orders-and-quotes/", {"kind": "orders", "action": "dry-run", "file": upload(ORDERS)})
    assert dry.status_code == 200 and b"Dry run" in dry.content and not OrderLine.objects.exists()
    done = client.post("/imports/orders-and-quotes/", {"kind": "orders", "action": "import", "file": upload(ORDERS)})
    assert done.status_code == 200 and b"Imported" in done.content
    assert OrderLine.objects.count() == 2
    again = client.post("/imports/orders-and-quotes/", {"kind": "orders", "action": "import", "file": upload(ORDERS)})
    assert b"2 unchanged" in again.content and OrderLine.objects.count() == 2
    assert (tmp_path / "uploads").is_dir() and not list((tmp_path / "uploads").iterdir())  # no copy is kept


def test_the_page_names_every_bad_row_and_imports_nothing(client, world):
    Account.objects.create(name="Acme Supply")
    client.login(username="bob", password=world.password)
    response = client.post("/imports/orders-and-quotes/",
                           {"kind": "orders", "action": "import", "file": upload(BAD_ORDERS)})
    assert response.status_code == 422
    text = response.content.decode()
    assert "Nothing imported" in text and "05/03/2026" in text and "Nobody Ltd" in text
    assert "--skip-bad-rows" not in text  # all or nothing: there is no skipping here
    assert not OrderLine.objects.exists()
    created = client.post("/imports/orders-and-quotes/", {"kind": "quotes", "action": "import", "create_accounts": "1",
                                                          "file": upload(QUOTES.replace("Acme Supply", "New Co"))})
    assert created.status_code == 200 and Quote.objects.get().account.name == "New Co"


def test_the_page_refuses_a_rep_a_missing_file_and_an_unknown_kind(client, world):
    client.login(username="alice", password=world.password)
    assert client.post("/imports/orders-and-quotes/", {"kind": "orders", "file": upload(ORDERS)}).status_code == 403
    client.logout()
    client.login(username="bob", password=world.password)
    assert client.post("/imports/orders-and-quotes/", {"kind": "orders"}).status_code == 422
    unknown = client.post("/imports/orders-and-quotes/", {"kind": "deals", "file": upload(ORDERS)})
    assert unknown.status_code == 422 and b"Choose what each row is" in unknown.content
    empty = client.post("/imports/orders-and-quotes/", {"kind": "orders", "file": upload("", "empty.csv")})
    assert empty.status_code == 422 and b"is empty" in empty.content
    assert not OrderLine.objects.exists()


def test_the_api_imports_orders_and_quotes_from_an_upload(client, world):
    Account.objects.create(name="Acme Supply")
    client.login(username="dave", password=world.password)
    dry = client.post("/api/imports/orders", {"file": upload(ORDERS), "dry_run": "true"})
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and not OrderLine.objects.exists()
    done = client.post("/api/imports/orders", {"file": upload(ORDERS)})
    assert done.status_code == 200
    assert (done.json()["written"], done.json()["created"], done.json()["rows"]) == (True, 2, 2)
    quotes = client.post("/api/imports/quotes", {"file": upload(QUOTES)})
    assert quotes.status_code == 200 and Quote.objects.get().number == "Q-1"


def test_the_api_answers_422_naming_bad_rows_and_403_to_a_rep(client, world):
    Account.objects.create(name="Acme Supply")
    client.login(username="bob", password=world.password)
    bad = client.post("/api/imports/orders", {"file": upload(BAD_ORDERS)})
    assert bad.status_code == 422 and bad.json()["code"] == "import_rows_invalid"
    rows = {(e["row"], e["column"]) for e in bad.json()["details"]["errors"]}
    assert rows == {(4, "ordered_at"), (5, "account")}
    assert not OrderLine.objects.exists()
    created = client.post("/api/imports/orders", {"file": upload(BAD_ORDERS.replace("05/03/2026", "2026-03-05")),
                                                  "create_accounts": "true"})
    assert created.status_code == 200 and created.json()["accounts_created"] == 1
    assert client.post("/api/imports/orders", {"file": upload(ORDERS), "surprise": "1"}).status_code == 422
    assert client.post("/api/imports/orders", {}).status_code == 422
    client.logout()
    client.login(username="alice", password=world.password)
    assert client.post("/api/imports/orders", {"file": upload(ORDERS)}).status_code == 403
    client.logout()
    assert client.post("/api/imports/orders", {"file": upload(ORDERS)}).status_code == 401
