"""The rules each pipeline template ships, enabled: created with the pipeline (`init`, demo, API).

Written as data and created through the rule service, so a template naming a stage it does not
have fails loudly when the pipeline is built (tests/automation/test_automation_seed.py builds each).
"""

from __future__ import annotations

from typing import Any

FOLLOW_UP_DAYS = 3


def _follow_up(stage_key: str, stage_name: str) -> dict[str, Any]:
    return {
        "name": f"Follow up {FOLLOW_UP_DAYS} days after a deal enters {stage_name}",
        "trigger": "stage_entered", "trigger_stage": stage_key,
        "actions": [{"type": "create_task", "title": "Follow up on the proposal for {deal}",
                     "due_in_days": FOLLOW_UP_DAYS, "assignee": "owner"}],
    }


WELCOME_NEW_OWNER = {
    "name": "Tell the new owner when a deal is assigned",
    "trigger": "deal_assigned",
    "actions": [{"type": "notify", "to": "owner", "kind": "assigned", "title": "{deal} is now yours",
                 "body": "You are the new owner of {deal} ({stage}). Check its next step."}],
}

STALE_ALERT = {
    "name": "Alert the team manager when a deal goes stale",
    "trigger": "deal_idle",  # past its stage's idle limit; once per stale spell
    "actions": [{"type": "notify", "to": "manager", "kind": "alert", "title": "{deal} has gone stale",
                 "body": "{deal} ({owner}) has had no move or activity for longer than {stage}'s idle limit."}],
}

CLOSE_DATE_REMINDER = {
    "name": "Remind the owner when a close date passes",
    "trigger": "close_date_passed",
    "actions": [{"type": "notify", "to": "owner", "kind": "alert", "title": "{deal}: the expected close date passed",
                 "body": "Close it, or set the date it will really close."}],
}

# Distributor stage 4 -> 5: what was agreed reaches the people who look after the account from now on.
HANDOFF_TO_ACCOUNT_TEAM = {
    "name": "Send the handoff record to the account team when a deal is won",
    "trigger": "deal_won",
    "actions": [{"type": "notify", "to": to, "kind": "alert", "title": "{deal} won: the handoff record",
                 "body": "{account} bought. What was agreed at the win:\n{handoff}"}
                for to in ("account_owner", "manager")],
}

_EVERY_PIPELINE = [WELCOME_NEW_OWNER, STALE_ALERT, CLOSE_DATE_REMINDER]
RULES_BY_TEMPLATE: dict[str, list[dict[str, Any]]] = {
    "b2b-7": [_follow_up("proposal", "Proposal"), *_EVERY_PIPELINE],
    "b2b-9": [_follow_up("proposal", "Proposal"), *_EVERY_PIPELINE],
    # The distributor pipeline quotes in Active Selling & Follow-Up: its proposal stage.
    "distributor-5": [_follow_up("active-selling", "Active Selling & Follow-Up"), *_EVERY_PIPELINE,
                      HANDOFF_TO_ACCOUNT_TEAM],
}


def seed_template_rules(pipeline: Any, template: str) -> list[Any]:
    """Create the template's rules for this pipeline (enabled); none for a template without rules."""
    from dealgate.automation.services import create_rule

    return [create_rule(by=None, pipeline=pipeline, **spec) for spec in RULES_BY_TEMPLATE.get(template, [])]
