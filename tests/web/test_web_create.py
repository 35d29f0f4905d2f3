"""Creating deals, accounts and contacts in the web app: the same services and gates as the API.

The `startable` pipeline: Lead (exit: amount > 0, close date set) -> Proposal (entry: nothing)
-> Demo (entry: budget ticked). A new deal may start in Lead or Proposal (the form fills what
Proposal's gates ask), never in Demo (a checklist needs a deal that exists).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.audit.models import AuditEntry
from dealgate.deals import services
from dealgate.deals.models import Account, Contact, Deal, StageHistory
from dealgate.deals.selectors import stages_a_new_deal_can_start_in
from dealgate.errors import MoveBlocked
from dealgate.pipelines.models import Criterion, Pipeline, Stage
from tests.security.urlwalk import encode


@pytest.fixture
def startable(db):
    pipeline = Pipeline.objects.create(key="startable", name="Startable")
    lead = Stage.objects.create(pipeline=pipeline, key="lead", name="Lead", position=1, probability=10)
    proposal = Stage.objects.create(pipeline=pipeline, key="proposal", name="Proposal", position=2, probability=50)
    demo = Stage.objects.create(pipeline=pipeline, key="demo", name="Demo", position=3, probability=70)
    Stage.objects.create(pipeline=pipeline, key="won", name="Won", position=4, kind="won", probability=100)
    Criterion.objects.create(stage=lead, phase="exit", key="amount", label="Deal value is entered", kind="field",
                             config={"field": "amount", "op": "gt", "value": 0}, position=1)
    Criterion.objects.create(stage=lead, phase="exit", key="close", label="An expected close date is set",
                             kind="field", config={"field": "expected_close_date"}, position=2)
    Criterion.objects.create(stage=demo, phase="entry", key="budget", label="Budget confirmed", kind="checklist",
                             config={"item": "budget"})
    return pipeline


def _stage(pipeline, key):
    return pipeline.stages.get(key=key)


def _deal_form(stage_, **fields):
    return {"title": "Lyon roll-out", "account": "Acme", "stage": stage_.pk, "amount": "", "currency": "EUR",
            "expected_close_date": "", "next_step": "", "next_step_due": "", **fields}


# ---------------------------------------------------------------------------------------------
# The service


def test_it_offers_only_the_stages_a_new_deal_can_meet(startable):
    assert [s.key for s in stages_a_new_deal_can_start_in(startable.pk)] == ["lead", "proposal"]


def test_it_creates_a_deal_in_a_later_stage_through_the_gate_with_its_history(world, startable):
    account = services.create_account(by=world.alice, name="Acme")
    deal = services.create_deal(by=world.alice, title="Big one", account=account, pipeline=startable,
                                amount="5000", expected_close_date="2027-03-01", stage="proposal")
    assert deal.stage.key == "proposal"
    kinds = list(StageHistory.objects.filter(deal=deal).order_by("id").values_list("kind", "to_stage__key"))
    assert kinds == [("created", "lead"), ("forward", "proposal")]


def test_it_refuses_a_later_stage_whose_criteria_do_not_hold_and_keeps_nothing(world, startable):
    account = services.create_account(by=world.alice, name="Acme")
    with pytest.raises(MoveBlocked) as refused:
        services.create_deal(by=world.alice, title="Too early", account=account, pipeline=startable, stage="proposal")
    assert {item["key"] for item in refused.value.unmet} == {"amount", "close"}
    assert "cannot start in Proposal" in refused.value.message
    assert refused.value.details["deal"] is None
    assert not Deal.objects.exists() and not StageHistory.objects.exists()


# ---------------------------------------------------------------------------------------------
# New deal


def test_a_rep_creates_a_deal_for_a_new_account_and_lands_on_its_page(client, world, startable):
    client.force_login(world.alice)
    response = client.post(reverse("web:new_deal"), _deal_form(_stage(startable, "lead"), next_step="Call Marie",
                                                              next_step_due="2027-01-10"))
    deal = Deal.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:deal", args=[deal.pk])
    assert deal.owner == world.alice and deal.account.name == "Acme" and deal.account.owner == world.alice
    assert deal.next_step == "Call Marie" and deal.currency == "EUR"
    page = client.get(response["Location"]).content.decode()
    assert "Deal “Lyon roll-out” created in Lead" in page and "new account Acme" in page
    made = AuditEntry.objects.filter(action="created", object_type__in=("account", "deal"))
    assert sorted(made.values_list("object_type", "by__username", "surface")) == [
        ("account", "alice", "web"), ("deal", "alice", "web")]


def test_it_uses_an_account_the_user_can_see_when_the_name_matches(client, world, startable):
    acme = services.create_account(by=world.alice, name="Acme GmbH")
    client.force_login(world.alice)
    client.post(reverse("web:new_deal"), _deal_form(_stage(startable, "lead"), account="acme gmbh"))
    assert Deal.objects.get().account == acme and Account.objects.count() == 1


def test_it_shows_every_field_error_next_to_its_field_and_keeps_what_was_typed(client, world, startable):
    client.force_login(world.alice)
    response = client.post(reverse("web:new_deal"), _deal_form(
        _stage(startable, "lead"), title="", amount="lots", currency="euro", next_step="Call back",
        account="Typed Account"))
    assert response.status_code == 400
    html = response.content.decode()
    for field in ("title", "amount", "currency", "next_step_due"):
        assert f'id="err-{field}"' in html, field
    assert "is not a number" in html and 'value="Typed Account"' in html and 'value="Call back"' in html
    assert not Deal.objects.exists() and not Account.objects.exists()


def test_a_refused_later_stage_lists_what_is_missing_and_loses_nothing(client, world, startable):
    client.force_login(world.alice)
    response = client.post(reverse("web:new_deal"), _deal_form(_stage(startable, "proposal"), amount="0",
                                                              account="Brand New Co"))
    assert response.status_code == 409
    html = response.content.decode()
    assert "cannot start in Proposal" in html and "Deal value is entered" in html and "An expected close date is set" in html
    assert 'value="Brand New Co"' in html and 'value="Lyon roll-out"' in html
    assert not Deal.objects.exists() and not Account.objects.exists()  # the new account goes with the refused deal


def test_a_later_stage_with_its_criteria_met_creates_the_deal_there(client, world, startable):
    client.force_login(world.alice)
    client.post(reverse("web:new_deal"), _deal_form(_stage(startable, "proposal"), amount="1200",
                                                    expected_close_date="2027-02-01"))
    assert Deal.objects.get().stage.key == "proposal"


def test_a_stage_the_form_cannot_reach_is_still_gated(client, world, startable):
    client.force_login(world.alice)
    response = client.post(reverse("web:new_deal"), _deal_form(_stage(startable, "demo"), amount="1200",
                                                               expected_close_date="2027-02-01"))
    assert response.status_code == 409 and "Budget confirmed" in response.content.decode()
    assert not Deal.objects.exists()


def test_owner_choices_follow_the_role(client, world, startable):
    client.force_login(world.alice)
    html = client.get(reverse("web:new_deal")).content.decode()
    assert 'name="owner"' not in html and "You (Alice)" in html
    response = client.post(reverse("web:new_deal"), _deal_form(_stage(startable, "lead"), owner=world.bob.pk))
    assert response.status_code == 400 and "pick an owner from the list" in response.content.decode()
    client.force_login(world.bob)
    html = client.get(reverse("web:new_deal")).content.decode()
    assert f'value="{world.alice.pk}"' in html and f'value="{world.carol.pk}"' not in html
    client.post(reverse("web:new_deal"), _deal_form(_stage(startable, "lead"), owner=world.alice.pk))
    deal = Deal.objects.get()
    assert deal.owner == world.alice and deal.team == world.east
    client.force_login(world.dave)
    assert f'value="{world.carol.pk}"' in client.get(reverse("web:new_deal")).content.decode()


def test_the_form_starts_with_what_the_link_knows(client, world, startable):
    acme = services.create_account(by=world.alice, name="Acme")
    client.force_login(world.alice)
    html = client.get(reverse("web:new_deal"), {"stage": _stage(startable, "proposal").pk,
                                                "account": acme.pk}).content.decode()
    assert 'value="Acme"' in html
    assert f'<option value="{_stage(startable, "proposal").pk}" selected>' in html
    assert f'<option value="{_stage(startable, "demo").pk}"' not in html  # not a stage a deal can start in
    hidden = services.create_account(by=world.carol, name="Carol's secret account")
    assert "Carol&#x27;s secret" not in client.get(reverse("web:new_deal"), {"account": hidden.pk}).content.decode()


@pytest.mark.parametrize("hostile", ["a\x00b", "\ud800", "x" * 5000, "１２", "-1", "99999999999999999999999"])
def test_hostile_input_is_refused_with_a_message_never_a_500(client, world, startable, hostile):
    client.force_login(world.alice)
    lead = _stage(startable, "lead")
    for field in ("title", "account", "amount", "currency", "expected_close_date", "stage", "owner", "next_step_due"):
        response = _post(client, reverse("web:new_deal"), _deal_form(lead, **{field: hostile}))
        assert response.status_code in (302, 400), (field, response.status_code)
        if response.status_code == 400:
            assert b'class="field-error"' in response.content or b"notice-error" in response.content
    for url, fields in ((reverse("web:new_account"), ("name", "segment")),
                        (reverse("web:new_contact"), ("name", "account", "email", "phone", "title"))):
        for field in fields:
            data = {"name": "Ann", "account": "Acme", **{field: hostile}}
            assert _post(client, url, data).status_code in (302, 400), (url, field)


def _post(client, url, data):
    """A form post that can carry what a browser cannot build (a lone surrogate) as raw bytes."""
    return client.generic("POST", url, encode(data), content_type="application/x-www-form-urlencoded")


# ---------------------------------------------------------------------------------------------
# New account and new contact


def test_a_rep_creates_an_account_and_a_contact_on_it(client, world):
    client.force_login(world.alice)
    response = client.post(reverse("web:new_account"), {"name": "Globex", "segment": "SMB"})
    account = Account.objects.get()
    assert response["Location"] == reverse("web:account", args=[account.pk])
    assert account.owner == world.alice and account.segment == "SMB"
    page = client.get(response["Location"]).content.decode()
    assert f"{reverse('web:new_contact')}?account={account.pk}" in page
    assert f"{reverse('web:new_deal')}?account={account.pk}" in page
    response = client.post(reverse("web:new_contact"), {"name": "Marie Curie", "account": "Globex",
                                                        "email": "marie@globex.example", "title": "CFO"})
    assert response["Location"] == reverse("web:account", args=[account.pk])
    assert Contact.objects.get().account == account
    assert "Marie Curie" in client.get(reverse("web:contacts")).content.decode()


def test_it_refuses_a_second_account_of_the_same_name(client, world):
    services.create_account(by=world.alice, name="Globex")
    client.force_login(world.alice)
    response = client.post(reverse("web:new_account"), {"name": "globex"})
    assert response.status_code == 400 and "Globex is already an account" in response.content.decode()
    assert Account.objects.count() == 1


def test_a_contact_needs_a_name_and_an_account(client, world):
    client.force_login(world.alice)
    response = client.post(reverse("web:new_contact"), {"name": "", "account": "", "email": "nope"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="err-account"' in html and 'value="nope"' in html
    assert not Contact.objects.exists()


# ---------------------------------------------------------------------------------------------
# The board: buttons, and a search that finds nothing


def test_the_board_offers_new_deal_in_the_columns_a_deal_can_start_in(client, world, startable):
    client.force_login(world.alice)
    html = client.get(reverse("web:board", args=["startable"])).content.decode()
    assert f"{reverse('web:new_deal')}?pipeline=startable" in html
    for key, offered in (("lead", True), ("proposal", True), ("demo", False)):
        assert (f"?stage={_stage(startable, key).pk}" in html) is offered, key


def test_a_search_with_no_result_says_so_instead_of_empty_columns(client, world, make_deal, pipeline):
    make_deal(title="Acme roll-out")
    client.force_login(world.alice)
    html = client.get(reverse("web:board", args=["test"]), {"q": "zzz"}).content.decode()
    assert "No open deals match “zzz”" in html and 'id="board"' not in html
    html = client.get(reverse("web:board", args=["test"]), {"q": "acme"}).content.decode()
    assert "No open deals match" not in html and "Acme roll-out" in html


def test_the_home_link_keeps_its_search(client, world, pipeline):
    client.force_login(world.alice)
    response = client.get("/", {"q": "acme & co"})
    assert response.status_code == 302 and response["Location"] == "/board/test/?q=acme+%26+co"
    assert client.get("/")["Location"] == "/board/test/"


def test_the_columns_redrawn_after_a_move_keep_their_new_deal_link(client, world, startable):
    account = services.create_account(by=world.alice, name="Acme")
    deal = services.create_deal(by=world.alice, title="Back again", account=account, pipeline=startable,
                                amount="5000", expected_close_date="2027-03-01", stage="proposal")
    client.force_login(world.alice)
    response = client.post(reverse("web:move", args=[deal.pk]), {"to": _stage(startable, "lead").pk},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    for key in ("lead", "proposal"):
        assert f"?stage={_stage(startable, key).pk}" in html, key


def test_the_new_deal_link_ignores_a_pipeline_it_cannot_read(client, world, pipeline):
    client.force_login(world.alice)  # a NUL byte reached PostgreSQL from this link: a 500 before
    response = client.get(reverse("web:new_deal"), {"pipeline": "te\x00st"})
    assert response.status_code == 200
    assert client.get(reverse("web:new_deal"), {"pipeline": "test"}).status_code == 200
