"""Settings pages: admins edit stages (order, probability, idle limit, exit question) and criteria."""

from __future__ import annotations

from django.urls import reverse

from dealgate.pipelines.models import Criterion, Pipeline, Stage


def _url(action, target=None):
    args = ["test", action] + ([target] if target is not None else [])
    return reverse("web:settings_action", args=args)


def test_an_admin_edits_a_stage_and_sees_errors_next_to_it(client, world, pipeline):
    client.force_login(world.dave)
    propose = pipeline.stages.get(key="propose")
    data = {"name": "Proposal", "probability": "65", "rot_days": "12", "exit_question": "Did they read it?"}
    assert client.post(_url("stage", propose.pk), data).status_code == 302
    propose.refresh_from_db()
    assert (propose.name, propose.probability, propose.rot_days, propose.exit_question) == (
        "Proposal", 65, 12, "Did they read it?")
    response = client.post(_url("stage", propose.pk), {**data, "probability": "140"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "must be between 0 and 100" in html
    assert html.index("must be between 0 and 100") > html.index(f'id="stage-{propose.pk}"')


def test_an_admin_reorders_open_stages_and_won_and_lost_stay_last(client, world, pipeline):
    client.force_login(world.dave)
    negotiate = pipeline.stages.get(key="negotiate")
    client.post(_url("stage-move", negotiate.pk), {"direction": "up"})
    order = list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("key", flat=True))
    assert order == ["qualify", "negotiate", "propose", "won", "lost"]
    won = pipeline.stages.get(key="won")
    assert client.post(_url("stage-move", won.pk), {"direction": "up"}).status_code == 422


def test_an_admin_adds_edits_and_removes_a_criterion_through_its_kinds_form(client, world, pipeline):
    """The checklist form's inputs become {"item", "group", "require_evidence"}; a bad item is refused next to
    the Item input with what was typed kept; the key comes from the label when none is given."""
    client.force_login(world.dave)
    negotiate = pipeline.stages.get(key="negotiate")
    bad = client.post(_url("criterion-add", negotiate.pk), {"phase": "exit", "kind": "checklist",
                                                             "label": "Legal reviewed", "item": "Legal OK"})
    html = bad.content.decode()
    assert bad.status_code == 422
    item_input = html.index('name="item" value="Legal OK"')  # kept as typed, in the checklist form
    error = html.index("String should match pattern", item_input)
    assert error < html.index('name="group"', item_input)  # next to Item, before the next input
    assert 'value="Legal reviewed"' in html
    assert not Criterion.objects.filter(stage=negotiate, key="legal-reviewed").exists()
    ok = client.post(_url("criterion-add", negotiate.pk), {"phase": "exit", "kind": "checklist", "label": "Legal reviewed",
                                                            "item": "legal", "group": "Terms"})
    assert ok.status_code == 302 and ok["Location"].endswith(f"?stage={negotiate.pk}")
    criterion = Criterion.objects.get(stage=negotiate, key="legal-reviewed")
    assert criterion.config == {"item": "legal", "group": "Terms", "require_evidence": False}
    client.post(_url("criterion", criterion.pk), {"label": "Legal signed off", "item": "legal", "require_evidence": "1"})
    criterion.refresh_from_db()
    assert (criterion.label, criterion.config) == ("Legal signed off",
                                                   {"item": "legal", "group": "", "require_evidence": True})
    client.post(_url("criterion-delete", criterion.pk))
    assert not Criterion.objects.filter(pk=criterion.pk).exists()


def test_a_field_criterion_form_keeps_numbers_as_numbers_and_shows_a_missing_value_next_to_value(client, world, pipeline):
    """Qualify's "amount > 0" edited to "amount at least 10000": value "10000" is stored as the number 10000.
    "greater than" with no value is refused next to the Value input; the saved config is unchanged."""
    client.force_login(world.dave)
    amount = Criterion.objects.get(stage__key="qualify", key="amount")
    assert client.post(_url("criterion", amount.pk), {"label": "Amount estimated", "field": "amount", "op": "gte",
                                                      "value": "10000"}).status_code == 302
    amount.refresh_from_db()
    assert amount.config == {"field": "amount", "op": "gte", "value": 10000}
    refused = client.post(_url("criterion", amount.pk), {"label": "Amount estimated", "field": "amount", "op": "gt",
                                                          "value": ""})
    html = refused.content.decode()
    assert refused.status_code == 422
    value_input = html.index('name="value"', html.index(f'id="criterion-{amount.pk}"'))
    assert html.index("operator &#x27;gt&#x27; needs a value", value_input) < html.index("</form>", value_input)
    amount.refresh_from_db()
    assert amount.config == {"field": "amount", "op": "gte", "value": 10000}
    client.post(_url("criterion", amount.pk), {"label": "Amount estimated", "field": "currency", "op": "in",
                                               "value": "EUR, USD"})
    amount.refresh_from_db()
    assert amount.config == {"field": "currency", "op": "in", "value": ["EUR", "USD"]}


def test_activity_contact_and_approval_forms_build_their_configs(client, world, pipeline):
    """Activity: "No show", 3, ever -> min_count the number 3 (the engine reads the outcome as no_show). Contact role: "" ->
    any contact. Approval: two ticked roles -> that list; none ticked -> refused (at least one role)."""
    client.force_login(world.dave)
    negotiate = pipeline.stages.get(key="negotiate")
    add = _url("criterion-add", negotiate.pk)
    client.post(add, {"phase": "exit", "kind": "activity", "label": "Three calls", "activity": "call",
                      "outcome": "No show", "scope": "ever", "min_count": "3"})
    client.post(add, {"phase": "entry", "kind": "contact_role", "label": "Two contacts", "role": "", "min_count": "2"})
    client.post(add, {"phase": "exit", "kind": "approval", "label": "Discount approved", "condition": "discount",
                      "approver_roles": ["manager", "admin"]})
    configs = {c.key: (c.phase, c.config) for c in negotiate.criteria.all()}
    assert configs == {
        "three-calls": ("exit", {"activity": "call", "outcome": "No show", "scope": "ever", "min_count": 3}),
        "two-contacts": ("entry", {"role": None, "min_count": 2}),
        "discount-approved": ("exit", {"condition": "discount", "approver_roles": ["manager", "admin"]}),
    }
    refused = client.post(add, {"phase": "exit", "kind": "approval", "label": "Nobody approves", "condition": "x"})
    assert refused.status_code == 422 and "List should have at least 1 item" in refused.content.decode()
    assert negotiate.criteria.count() == 3


def test_the_pipeline_page_lists_stages_and_each_stage_has_its_own_page(client, world, pipeline):
    """The pipeline page has no criterion forms (only the stage table); ?stage=<id> shows one stage's criteria.
    A stage id that is not a plain number, too big for 64 bits, or of another pipeline is a 404."""
    client.force_login(world.dave)
    page = client.get(reverse("web:settings_pipeline", args=["test"])).content.decode()
    assert 'name="item"' not in page and "Config (JSON)" not in page
    assert page.count('<tr id="stage-') == 5
    qualify = pipeline.stages.get(key="qualify")
    stage_page = client.get(reverse("web:settings_pipeline", args=["test"]) + f"?stage={qualify.pk}").content.decode()
    assert "Budget confirmed" in stage_page and "Decision maker identified" not in stage_page  # Propose's
    for bad in ("١٢", "9" * 25, "abc", str(qualify.pk + 1000)):
        assert client.get(reverse("web:settings_pipeline", args=["test"]), {"stage": bad}).status_code == 404


def test_an_admin_adds_a_stage_after_another_and_removes_an_unused_one(client, world, pipeline):
    """Added after Qualify (position 1): the new stage takes position 2, Propose..Lost move to 3..6. Removed
    again: Propose..Lost go back to 2..5. Both are in the audit log."""
    from dealgate.audit.models import AuditEntry
    from dealgate.audit.services import object_type_of

    client.force_login(world.dave)
    qualify = pipeline.stages.get(key="qualify")
    response = client.post(_url("stage-add"), {"name": "Technical review", "probability": "30", "after": qualify.pk})
    assert response.status_code == 302
    order = list(pipeline.stages.order_by("position").values_list("key", "position"))
    assert order == [("qualify", 1), ("technical-review", 2), ("propose", 3), ("negotiate", 4), ("won", 5), ("lost", 6)]
    review = pipeline.stages.get(key="technical-review")
    assert response["Location"].endswith(f"?stage={review.pk}")
    assert client.post(_url("stage-remove", review.pk)).status_code == 302
    order = list(pipeline.stages.order_by("position").values_list("key", "position"))
    assert order == [("qualify", 1), ("propose", 2), ("negotiate", 3), ("won", 4), ("lost", 5)]
    assert list(AuditEntry.objects.filter(object_type=object_type_of(review), object_id=review.pk)
                .order_by("id").values_list("action", flat=True)) == ["created", "deleted"]


def test_a_stage_with_deals_is_not_removed_and_the_refusal_says_how_many(client, world, pipeline, make_deal):
    """Two deals in Qualify: "2 deals are in it now"; Won is refused as the pipeline's one Won stage; a bad
    probability on a new stage is refused next to its input with the name kept."""
    client.force_login(world.dave)
    make_deal(title="One")
    make_deal(title="Two")
    qualify = pipeline.stages.get(key="qualify")
    refused = client.post(_url("stage-remove", qualify.pk))
    assert refused.status_code == 422
    assert "Qualify cannot be removed: 2 deals are in it now" in refused.content.decode()
    assert pipeline.stages.filter(pk=qualify.pk).exists()
    won = pipeline.stages.get(key="won")
    assert "every pipeline keeps one" in client.post(_url("stage-remove", won.pk)).content.decode()
    bad = client.post(_url("stage-add"), {"name": "Review", "probability": "140", "after": qualify.pk})
    html = bad.content.decode()
    assert bad.status_code == 422 and 'value="Review"' in html
    assert html.index("must be between 0 and 99") > html.index('name="probability"', html.index('id="stage-add"'))
    assert pipeline.stages.count() == 5


def test_an_admin_creates_a_pipeline_from_a_template(client, world, db):
    """distributor-5: five open stages, Won and Lost (7 stages), under the key and name typed; a taken key is
    refused next to its input."""
    client.force_login(world.dave)
    url = reverse("web:settings_pipeline_new")
    response = client.post(url, {"template": "distributor-5", "key": "channel", "name": "Channel sales"})
    assert response.status_code == 302 and response["Location"] == reverse("web:settings_pipeline", args=["channel"])
    pipeline = Pipeline.objects.get(key="channel")
    assert (pipeline.name, pipeline.stages.count()) == ("Channel sales", 7)
    again = client.post(url, {"template": "distributor-5", "key": "channel", "name": "Again"})
    assert again.status_code == 422 and "pipeline key &#x27;channel&#x27; is taken" in again.content.decode()
    assert Pipeline.objects.filter(name="Again").count() == 0


def test_reps_and_managers_cannot_post_settings(client, world, pipeline):
    propose = pipeline.stages.get(key="propose")
    for user in (world.alice, world.bob):
        client.force_login(user)
        response = client.post(_url("stage", propose.pk), {"name": "Hacked", "probability": "1"})
        assert response.status_code == 403
    assert pipeline.stages.get(key="propose").name == "Propose"


def test_a_criterion_config_with_a_nul_character_is_refused_with_nothing_written(client, world, pipeline):
    """PostgreSQL's jsonb cannot store NUL: the settings service refuses it instead of failing with a 500."""
    client.force_login(world.dave)
    negotiate = pipeline.stages.get(key="negotiate")
    response = client.post(_url("criterion-add", negotiate.pk), {
        "phase": "exit", "kind": "checklist", "key": "legal", "label": "Legal", "item": "le\x00gal"})
    assert response.status_code == 422 and "must not contain NUL characters" in response.content.decode()
    assert not Criterion.objects.filter(stage=negotiate, key="legal").exists()


def test_an_admin_retires_a_stage_moving_its_deals_and_restores_it(client, world, pipeline, make_deal):
    """Qualify holds two deals: the retire form asks where they go; a refused move keeps everything and names
    the deal; with a reason the moves are overrides; the board then has no Qualify column; Restore puts it back."""
    from dealgate.deals.models import StageHistory

    client.force_login(world.dave)
    make_deal(title="One", amount=100)
    make_deal(title="Two", amount=200)
    qualify, propose = pipeline.stages.get(key="qualify"), pipeline.stages.get(key="propose")
    page = client.get(reverse("web:settings_pipeline", args=["test"])).content.decode()
    assert "Move its 2 open deals to" in page and f'action="{_url("stage-retire", qualify.pk)}"' in page
    missing = client.post(_url("stage-retire", qualify.pk), {"move_deals_to": ""})
    assert missing.status_code == 422
    assert "2 open deals are in Qualify: choose the stage to move them to" in missing.content.decode()
    refused = client.post(_url("stage-retire", qualify.pk), {"move_deals_to": propose.pk})
    html = refused.content.decode()
    assert refused.status_code == 422
    assert "The stage Qualify was not retired and no deal moved: 2 of 2 open deals cannot move to Propose" in html
    assert "Budget confirmed" in html and "<details class=\"retire\" open>" in html
    assert not StageHistory.objects.filter(to_stage=propose).exists()
    done = client.post(_url("stage-retire", qualify.pk), {"move_deals_to": propose.pk,
                                                          "override_reason": "Qualify folded into Propose"})
    assert done.status_code == 302
    page = client.get(done["Location"]).content.decode()
    assert "Retired the stage Qualify" in page and "Its 2 open deals moved on." in page
    assert 'class="badge badge-warning">Retired</span>' in page
    assert set(StageHistory.objects.filter(to_stage=propose).values_list("override_reason", "by")) == {
        ("Qualify folded into Propose", world.dave.pk)}
    board = client.get(reverse("web:board", args=["test"])).content.decode()
    assert f'id="col-{qualify.pk}"' not in board and f'id="col-{propose.pk}"' in board
    assert client.post(_url("stage-restore", qualify.pk)).status_code == 302
    board = client.get(reverse("web:board", args=["test"])).content.decode()
    assert f'id="col-{qualify.pk}"' in board


def test_a_retired_stages_page_says_so_and_restores_it_from_there(client, world, pipeline):
    from dealgate.web.pipeline_settings import retire_stage
    from dealgate.words import day

    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    negotiate = retire_stage(pipeline.stages.get(key="negotiate"), by=world.dave)
    client.force_login(world.dave)
    row = client.get(reverse("web:settings_pipeline", args=["test"])).content.decode()
    assert f"since {day(negotiate.retired_at)}; Restore puts it back in place" in row
    page = client.get(reverse("web:settings_pipeline", args=["test"]), {"stage": negotiate.pk}).content.decode()
    assert f"Negotiate was retired on {day(negotiate.retired_at)}. It has no column on the board" in page
    assert f'action="{_url("stage-restore", negotiate.pk)}"' in page and ">Restore Negotiate</button>" in page
    assert client.post(_url("stage-restore", negotiate.pk)).status_code == 302
    page = client.get(reverse("web:settings_pipeline", args=["test"]), {"stage": negotiate.pk}).content.decode()
    assert "was retired on" not in page and "Restore Negotiate" not in page


def test_the_move_menu_and_new_deal_form_leave_a_retired_stage_out(client, world, pipeline, make_deal):
    from dealgate.web.pipeline_settings import retire_stage

    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    deal = make_deal(title="One")
    negotiate = pipeline.stages.get(key="negotiate")
    client.force_login(world.alice)
    menu = client.get(reverse("web:panel", args=[deal.pk, "menu"]), headers={"HX-Request": "true"}).content.decode()
    assert ">Negotiate<" in menu
    retire_stage(negotiate, by=world.dave)
    menu = client.get(reverse("web:panel", args=[deal.pk, "menu"]), headers={"HX-Request": "true"}).content.decode()
    assert ">Negotiate<" not in menu and ">Propose<" in menu
    form = client.get(reverse("web:new_deal")).content.decode()
    assert f'value="{negotiate.pk}"' not in form
    moved = client.post(reverse("web:move", args=[deal.pk]), {"to": negotiate.pk, "expected": deal.stage_id},
                        headers={"HX-Request": "true"})
    assert moved.status_code in (404, 409, 422)
    deal.refresh_from_db()
    assert deal.stage.key == "qualify"


def test_restoring_from_the_stage_page_returns_to_that_page_with_the_message(client, world, pipeline):
    """Restore on a retired stage's own page answers on that page (the list's Restore on the list's);
    a second Restore of the same stage (a double click) is refused on the stage page too."""
    from dealgate.web.pipeline_settings import retire_stage

    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    negotiate = retire_stage(pipeline.stages.get(key="negotiate"), by=world.dave)
    client.force_login(world.dave)
    stage_page = f'{reverse("web:settings_pipeline", args=["test"])}?stage={negotiate.pk}'
    page = client.get(stage_page).content.decode()
    assert '<input type="hidden" name="back" value="stage"><button class="btn small" type="submit">Restore Negotiate' in page
    done = client.post(_url("stage-restore", negotiate.pk), {"back": "stage"}, follow=True)
    assert done.redirect_chain == [(stage_page, 302)]
    assert "Restored the stage Negotiate: deals can be moved to it again." in done.content.decode()
    again = client.post(_url("stage-restore", negotiate.pk), {"back": "stage"})
    assert again.status_code == 422 and "Negotiate is not retired" in again.content.decode()
    assert '<h1>Negotiate <span class="muted small">stage' in again.content.decode()
    retire_stage(negotiate, by=world.dave)
    from_list = client.post(_url("stage-restore", negotiate.pk))  # the pipeline page's Restore
    assert from_list.url == reverse("web:settings_pipeline", args=["test"])
