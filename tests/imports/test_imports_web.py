"""The /imports/ pages: upload, map columns, preview, dry run, import, downloads, and who may use them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dealgate.deals.models import Deal

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def uploads_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def login(client, user, world):
    assert client.login(username=user.username, password=world.password)


def upload(client, name="generic_deals.csv", ready="generic", kind="deals"):
    file = SimpleUploadedFile(name, (DATA / name).read_bytes(), content_type="text/csv")
    return client.post("/imports/upload/", {"kind": kind, "file": file, "ready": ready})


def mapping_form(response, **extra):
    """The map page's form as the browser would submit it, selects at their chosen values."""
    data = {"advanced": response.context["advanced"]}
    for column, target, _samples in response.context["header"]:
        data[f"column:{column}"] = target
    data.update(extra)
    return data


def test_it_sends_anonymous_visitors_to_the_login_page(client, db):
    response = client.get("/imports/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_refuses_reps_the_import_page_uploads_and_exports(client, world):
    login(client, world.alice, world)
    assert client.get("/imports/").status_code == 403
    assert upload(client).status_code == 403
    assert client.get("/imports/export/deals.csv").status_code == 403


def test_a_manager_uploads_maps_dry_runs_and_imports(client, world, pipeline):
    login(client, world.bob, world)
    page = client.get("/imports/")
    assert page.status_code == 200 and b"hubspot" in page.content and b"/imports/export/history.csv" in page.content
    response = upload(client)
    assert response.status_code == 302
    map_url = response["Location"]
    page = client.get(map_url)
    assert page.status_code == 200
    assert b"Soylent supply" in page.content  # preview of the first rows
    assert dict((c, t) for c, t, _ in page.context["header"])["title"] == "title"  # prefilled from the ready mapping

    dry = client.post(map_url, mapping_form(page, action="dry_run"))
    assert dry.context["report"].created == 3 and not dry.context["report"].written
    assert Deal.objects.count() == 0

    done = client.post(map_url, mapping_form(page, action="import"))
    assert done.context["report"].written and Deal.objects.count() == 3
    assert b"Imported" in done.content


def test_the_page_shows_each_bad_row_and_imports_nothing(client, world, pipeline):
    login(client, world.dave, world)
    page = client.get(upload(client)["Location"])
    form = mapping_form(page, action="import")
    form["column:amount"] = "created_at"  # a wrong choice: amounts are not dates
    response = client.post(page.request["PATH_INFO"], form)
    report = response.context["report"]
    assert report.blocked and Deal.objects.count() == 0
    assert b"not a date" in response.content and b"<td class=\"num\">2</td>" in response.content


def test_a_mapping_mistake_is_shown_not_raised(client, world, pipeline):
    login(client, world.bob, world)
    page = client.get(upload(client)["Location"])
    response = client.post(page.request["PATH_INFO"], mapping_form(page, advanced='{"currency": "euro"}',
                                                                  action="dry_run"))
    assert response.status_code == 200 and b"currency" in response.content and response.context["report"] is None


def test_an_upload_belongs_to_the_session_that_made_it(client, world, pipeline, django_user_model):
    login(client, world.bob, world)
    map_url = upload(client)["Location"]
    client.logout()
    login(client, world.dave, world)
    assert client.get(map_url).status_code == 404


def test_a_manager_downloads_a_streamed_csv_export(client, world, make_deal):
    make_deal(title="Streamed")
    login(client, world.bob, world)
    response = client.get("/imports/export/deals.csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].startswith("id,external_id,title") and "Streamed" in body
    assert client.get("/imports/export/passwords.csv").status_code == 404


def test_uploads_older_than_a_day_are_removed_on_the_next_upload(client, world, pipeline, settings):
    import os
    import time

    old = Path(settings.DATA_DIR) / "uploads" / "stale.csv"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text("a,b\n")
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    login(client, world.bob, world)
    upload(client)
    assert not old.exists() and len(list(old.parent.glob("*.csv"))) == 1


def test_an_upload_without_a_file_comes_back_with_a_message(client, world):
    login(client, world.bob, world)
    response = client.post("/imports/upload/", {"kind": "deals"}, follow=True)
    assert b"Choose what each row is and a CSV file." in response.content


def test_a_manager_imports_stage_history_on_the_page(client, world, pipeline):
    """After the deals, the stage paths: G-2 (won Aug 15) went through propose (Jun 20) and negotiate (Jul 10),
    G-3 (lost Jul 1) through propose (Jun 1): 3 history rows. The deal import said it carried no path."""
    login(client, world.bob, world)
    response = upload(client)
    page = client.get(response["Location"])
    deals = client.post(response["Location"], mapping_form(page, action="import"))
    assert b"This file carries no stage path: 2 new closed deals go from their first stage" in deals.content
    assert b"stage history (the stages each deal went through)" in client.get("/imports/").content
    response = upload(client, "generic_stage_history.csv", kind="stage-history")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert b"Import stage history from generic_stage_history.csv" in page.content
    done = client.post(response["Location"], mapping_form(page, action="import"))
    assert done.context["report"].written and done.context["report"].history_rows == 3
    assert list(Deal.objects.get(external_id="G-2").history.order_by("at").values_list("to_stage__key", flat=True)) \
        == ["qualify", "propose", "negotiate", "won"]
