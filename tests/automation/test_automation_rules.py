"""Rules are validated data: a rule naming what does not exist is refused with a message."""

from __future__ import annotations

import pytest

from dealgate.automation import services
from dealgate.automation.engine import matches
from dealgate.automation.models import Rule
from dealgate.errors import NotAllowed, ValidationFailed
from dealgate.pipelines.models import CustomField

TASK = [{"type": "create_task", "title": "Follow up", "due_in_days": 3}]


def test_it_refuses_a_rule_entering_a_stage_the_pipeline_does_not_have(world, pipeline):
    with pytest.raises(ValidationFailed) as refused:
        services.create_rule(by=world.dave, name="r", trigger="stage_entered", trigger_stage="proposal",
                             pipeline=pipeline, actions=TASK)
    assert refused.value.details == {"trigger_stage": ["no stage 'proposal' in pipeline 'test'"]}
    assert not Rule.objects.exists()


def test_it_refuses_conditions_naming_a_missing_stage_field_user_or_team(world, pipeline):
    with pytest.raises(ValidationFailed) as refused:
        services.create_rule(by=world.dave, name="r", trigger="deal_created", pipeline=pipeline, actions=TASK,
                             conditions={"stages": ["qualify", "nowhere"], "fields": {"region": "north"},
                                         "owners": ["zed"], "teams": ["North"], "sources": ["fax"]})
    assert refused.value.details == {
        "conditions.stages": ["no stage 'nowhere' in pipeline 'test'"], "conditions.owners": ["no user 'zed'"],
        "conditions.teams": ["no team 'North'"], "conditions.sources": ["'fax' is not a source"],
        "conditions.fields": ["no custom field 'region'"],
    }
    assert "conditions.stages: no stage 'nowhere' in pipeline 'test'" in refused.value.message


def test_it_refuses_setting_a_field_that_does_not_exist_or_an_unknown_action(world, pipeline):
    with pytest.raises(ValidationFailed) as refused:
        services.create_rule(by=world.dave, name="r", trigger="deal_won", pipeline=pipeline,
                             actions=[{"type": "set_field", "field": "custom.region", "value": "x"}])
    assert refused.value.details == {"actions.0.field": ["no custom field 'region'"]}
    with pytest.raises(ValidationFailed) as refused:
        services.create_rule(by=world.dave, name="r", trigger="deal_won", actions=[{"type": "send_fax"}])
    assert any(key.startswith("actions.0") for key in refused.value.details)
    with pytest.raises(ValidationFailed) as refused:  # a webhook needs its address
        services.create_rule(by=world.dave, name="r", trigger="deal_won", actions=[{"type": "webhook"}])
    assert "actions.0.webhook.url" in refused.value.details
    with pytest.raises(ValidationFailed):
        services.create_rule(by=world.dave, name="r", trigger="deal_won", actions=[])
    with pytest.raises(ValidationFailed):
        services.create_rule(by=world.dave, name="r", trigger="deal_asleep", actions=TASK)


def test_only_an_admin_may_create_rules(world, pipeline):
    with pytest.raises(NotAllowed):
        services.create_rule(by=world.bob, name="r", trigger="deal_created", actions=TASK)


def test_an_update_is_checked_again(world, pipeline):
    rule = services.create_rule(by=world.dave, name="r", trigger="stage_entered", trigger_stage="propose",
                                pipeline=pipeline, actions=TASK)
    with pytest.raises(ValidationFailed):
        services.update_rule(rule, by=world.dave, trigger_stage="gone")
    rule.refresh_from_db()
    assert rule.trigger_stage == "propose"
    services.update_rule(rule, by=world.dave, trigger_stage="negotiate", name="Renamed")
    rule.refresh_from_db()
    assert (rule.name, rule.trigger_stage) == ("Renamed", "negotiate")


def test_conditions_filter_on_amount_owner_team_source_and_custom_field(world, pipeline, make_deal):
    CustomField.objects.create(key="region", label="Region")
    rule = services.create_rule(by=world.dave, name="r", trigger="deal_created", pipeline=pipeline, actions=TASK,
                                conditions={"amount_min": "1000", "amount_max": "5000", "teams": ["East"],
                                            "sources": ["inbound"], "fields": {"region": "north"}})
    fits = dict(amount=2000, source="inbound", custom_fields={"region": "north"})
    assert matches(rule, make_deal(**fits))
    assert matches(rule, make_deal(**{**fits, "amount": 1000}))  # the range includes its ends
    assert not matches(rule, make_deal(**{**fits, "amount": 5001}))
    assert not matches(rule, make_deal(**{**fits, "source": "outbound"}))
    assert not matches(rule, make_deal(**{**fits, "custom_fields": {"region": "south"}}))
    assert not matches(rule, make_deal(owner=world.carol, **fits))  # team West
    by_owner = services.create_rule(by=world.dave, name="o", trigger="deal_created", actions=TASK,
                                    conditions={"owners": ["carol"]})
    assert matches(by_owner, make_deal(owner=world.carol)) and not matches(by_owner, make_deal(owner=world.alice))


def test_idle_days_belong_to_the_idle_trigger_only(world, pipeline):
    with pytest.raises(ValidationFailed) as refused:
        services.create_rule(by=None, name="r", trigger="deal_won", idle_days=3, actions=TASK)
    assert refused.value.details == {"idle_days": ["only the 'deal idle' trigger counts idle days"]}
    with pytest.raises(ValidationFailed):
        services.create_rule(by=None, name="r", trigger="deal_idle", idle_days=0, actions=TASK)
