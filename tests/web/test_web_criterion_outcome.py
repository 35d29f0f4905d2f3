"""An activity criterion keeps the outcome as the admin typed it ("No Show") for its words, and matches
activities however their outcome was spelled ("no-show", "NO  SHOW", "no_show")."""

from __future__ import annotations

from django.urls import reverse

from dealgate.deals import services
from dealgate.deals.flags import criteria_progress
from dealgate.deals.models import Deal
from dealgate.pipelines.criteria import ActivityConfig, outcome_key


def test_an_outcome_key_folds_case_spaces_hyphens_and_underscores():
    assert [outcome_key(t) for t in ("No Show", " no-show ", "NO \t SHOW", "no__show", "No_Show", "held")] == [
        "no_show", "no_show", "no_show", "no_show", "no_show", "held"]
    assert outcome_key("") == outcome_key(None) == outcome_key(" - _ ") == ""
    assert ActivityConfig(activity="call", outcome="  No   Show ").outcome == "No Show"  # outer and repeated spaces
    assert ActivityConfig(activity="call", outcome=" -_ ").outcome is None  # nothing but separators: any outcome


def test_a_criterion_typed_no_show_is_stored_and_shown_as_typed_and_counts_any_spelling(client, world, pipeline,
                                                                                       make_deal):
    client.force_login(world.dave)
    qualify = pipeline.stages.get(key="qualify")
    answer = client.post(reverse("web:settings_action", args=[pipeline.key, "criterion-add", qualify.pk]),
                         {"phase": "exit", "kind": "activity", "label": "Two missed calls", "activity": "call",
                          "outcome": "No Show", "scope": "stage", "min_count": "2"})
    assert answer.status_code in (200, 302)
    criterion = qualify.criteria.get(key="two-missed-calls")
    assert criterion.config["outcome"] == "No Show"  # stored as typed, not "no_show"

    deal = make_deal(title="Outcome deal")
    deal.refresh_from_db()

    def result():
        fresh = list(Deal.objects.select_related("stage", "pipeline").filter(pk=deal.pk))
        return next(r for r in criteria_progress(fresh)[deal.pk].results if r.label == "Two missed calls")

    assert result().missing == "Needs 2 calls marked “No Show” in this stage (none yet)"
    services.log_activity(by=world.alice, kind="call", subject="Rang", deal=deal, outcome="no-show")
    assert not result().met and "(1 so far)" in result().missing
    services.log_activity(by=world.alice, kind="call", subject="Rang again", deal=deal, outcome="NO  SHOW")
    services.log_activity(by=world.alice, kind="call", subject="Reached", deal=deal, outcome="connected")
    assert result().met  # the two no-shows count, whatever their spelling; the connected call does not

    other = make_deal(title="Fresh deal")
    client.force_login(world.alice)
    html = client.get(reverse("web:deal", args=[other.pk])).content.decode()
    assert "Log call (No Show)" in html and 'name="outcome" value="No Show"' in html
