"""The three pipeline templates that ship with Dealgate, as plain data.

A template is a dict: name, description, single_threaded_from (a stage position) and stages.
Each stage lists its entry and exit criteria as {key, label, kind, config}; configs follow
`dealgate.pipelines.criteria.CONFIG_SCHEMAS`. `services.create_pipeline_from_template` turns a
template into rows, and everything is editable in the admin afterwards.

Activity outcomes use one small vocabulary across templates: a meeting is `held`, an email is
`replied` (buyer answered) or `sent`, a call is `connected`.
"""

from __future__ import annotations

from typing import Any

Criterion = dict[str, Any]


def _field(key: str, label: str, field: str, op: str = "set", value: Any = None) -> Criterion:
    config: dict[str, Any] = {"field": field, "op": op}
    if value is not None:
        config["value"] = value
    return {"key": key, "label": label, "kind": "field", "config": config}


def _check(item: str, label: str, group: str = "", evidence: bool = True) -> Criterion:
    return {"key": item.replace("_", "-"), "label": label, "kind": "checklist",
            "config": {"item": item, "group": group, "require_evidence": evidence}}


def _activity(key: str, label: str, activity: str, outcome: str | None, scope: str = "stage",
              min_count: int = 1) -> Criterion:
    return {"key": key, "label": label, "kind": "activity",
            "config": {"activity": activity, "outcome": outcome, "scope": scope, "min_count": min_count}}


def _contacts(key: str, label: str, role: str | None, min_count: int = 1) -> Criterion:
    return {"key": key, "label": label, "kind": "contact_role", "config": {"role": role, "min_count": min_count}}


def _approval(condition: str, label: str, roles: tuple[str, ...] = ("manager", "admin")) -> Criterion:
    return {"key": condition.replace("_", "-"), "label": label, "kind": "approval",
            "config": {"condition": condition, "approver_roles": list(roles)}}


def _closed(won_entry: list[Criterion], post_sale: tuple[dict[str, Any], ...] = ()) -> list[dict[str, Any]]:
    """The Won and Lost stages every template ends with, and between them its post-sale phases.

    The signature is the win: a post-sale stage is no selling stage a deal sits in, its criteria are
    the checklist a won deal works through after it (decision 010)."""
    won, lost = [
        {"key": "won", "name": "Won", "kind": "won", "probability": 100,
         "goal": "The customer bought and the people who deliver know exactly what was promised.",
         "exit_question": "", "rot_days": None,
         "guidance": "Winning is gated by the close conditions and the handoff record, so delivery starts from "
                     "written terms rather than from memory.",
         "entry": won_entry},
        {"key": "lost", "name": "Lost", "kind": "lost", "probability": 0,
         "goal": "Record why the deal ended so the team learns from it.",
         "exit_question": "", "rot_days": None,
         "guidance": "Any open deal may be closed as lost; pick a reason from the list and add a short note.",
         "entry": []},
    ]
    return [won, *({**stage, "kind": "post"} for stage in post_sale), lost]


# Shared building blocks -------------------------------------------------------------------------

BANT = [
    _check("budget", "Budget: money is set aside, or the buyer said where it comes from", "BANT"),
    _check("authority", "Authority: we know who signs and how they decide", "BANT"),
    _check("need", "Need: the problem is real, costly and the buyer says so", "BANT"),
    _check("timeline", "Timeline: the buyer named a date or event that drives the purchase", "BANT"),
]

HANDOFF = [
    _check("agreed_terms", "Handoff: agreed price, scope and terms written down for the delivery team", "Handoff"),
    _check("delivery_expectations", "Handoff: delivery dates and service expectations recorded", "Handoff"),
    _check("product_requirements", "Handoff: products, quantities or configuration the customer expects", "Handoff"),
]

PRICING_APPROVED = _approval("pricing_approved", "Pricing and any discount approved by a manager")
PROSPECT_ANSWERED = [
    _check("icp_fit", "Account fits our ideal customer profile (size, industry, need)", "Fit"),
    _activity("buyer-replied", "The buyer replied to our outreach", "email", "replied"),
]
CONTRACT_SIGNED = _check("contract_signed", "The contract is signed by the customer", "Contract")
VALUE_AND_DATE_SET = [
    _field("amount", "Deal value is entered", "amount", "gt", 0),
    _field("close-date", "An expected close date is set", "expected_close_date"),
]


# After a b2b-7 win (the signed contract): the customer is handed over and kicked off.
ONBOARDING = {
    "key": "onboarding", "name": "Onboarding", "probability": 100, "rot_days": 30,
    "goal": "Hand the customer over to delivery and make sure the first weeks go well.",
    "exit_question": "Has the customer's kick-off happened with the delivery team?",
    "guidance": "Introduce the delivery or success team personally and pass on everything that was promised.",
    "exit": [
        _activity("kickoff-held", "A kick-off meeting with the customer was held", "meeting", "held"),
    ],
}


# b2b-7 ------------------------------------------------------------------------------------------

B2B_7 = {
    "name": "B2B new business (7 stages)",
    "description": "A classic seven-step B2B sale, from first research to a customer being onboarded.",
    "single_threaded_from": 4,
    "stages": [
        {"key": "prospecting", "name": "Prospecting", "probability": 10, "rot_days": 14,
         "goal": "Find accounts that fit our ideal customer profile and start a conversation with them.",
         "exit_question": "Has a person at a well-fitting account answered us and agreed to keep talking?",
         "guidance": "Research the account before reaching out. Work only accounts that fit; a reply is the "
                     "signal to move on, an opened email is not.",
         "exit": PROSPECT_ANSWERED},
        {"key": "lead-qualification", "name": "Lead Qualification", "probability": 20, "rot_days": 14,
         "goal": "Decide whether this lead is worth the team's time, using BANT.",
         "exit_question": "Do we know who signs, what money pays for it, which problem it solves and by when?",
         "guidance": "Ask the qualifying questions in the first real conversation. Disqualify early: a clean "
                     "no is worth more than a deal that sits for months.",
         "exit": [*BANT, _field("amount", "A first estimate of the deal value is entered", "amount", "gt", 0)]},
        {"key": "needs-analysis", "name": "Needs Analysis", "probability": 40, "rot_days": 21,
         "goal": "Understand the buyer's problem, its cost, and how they will judge a solution.",
         "exit_question": "Could we explain the buyer's problem and its cost back to them in their own numbers?",
         "guidance": "Listen more than you talk. Write down the metrics the buyer cares about and find someone "
                     "inside who wants this to happen.",
         "exit": [
             _activity("discovery-meeting", "A discovery meeting with the buyer was held in this stage",
                       "meeting", "held"),
             _check("metrics", "Metrics: the gain the buyer expects, in numbers", "MEDDPICC"),
             _check("identify_pain", "Pain: the problem and what it costs today", "MEDDPICC"),
             _contacts("champion", "A champion is named on the deal", "champion"),
             _field("close-date", "An expected close date is set", "expected_close_date"),
         ]},
        {"key": "solution-presentation", "name": "Solution Presentation", "probability": 50, "rot_days": 21,
         "goal": "Show how our offer solves the problems found in needs analysis, to everyone who decides.",
         "exit_question": "Did the people who decide see the solution and agree it fits their needs?",
         "guidance": "Build the presentation around the buyer's pains, not the product menu. Bring more than one "
                     "stakeholder: a deal that rests on one person is fragile.",
         "entry": [_contacts("stakeholders", "At least two stakeholders are engaged (multi-threaded)", None, 2)],
         "exit": [
             _activity("presentation-held", "The solution was presented in a meeting in this stage",
                       "meeting", "held"),
             _check("solution_fit", "The buyer confirmed the solution fits their needs", "Fit"),
             _contacts("decision-maker", "The decision maker is on the deal", "decision_maker"),
         ]},
        {"key": "proposal", "name": "Proposal", "probability": 60, "rot_days": 14,
         "goal": "Turn the agreed solution into a written offer with scope, price and terms.",
         "exit_question": "Has the economic buyer reviewed our proposal with us and raised no blocking issue?",
         "guidance": "Send the proposal only after the value is agreed, then walk through it with the buyer. "
                     "Follow up within three days.",
         "entry": VALUE_AND_DATE_SET,
         "exit": [
             _activity("proposal-sent", "The proposal was sent by email", "email", "sent"),
             _check("proposal_reviewed", "The buyer walked through the proposal with us", "Proposal"),
             _contacts("economic-buyer", "The economic buyer is on the deal", "economic_buyer"),
         ]},
        {"key": "negotiation-closing", "name": "Negotiation & Closing", "probability": 80, "rot_days": 21,
         "goal": "Agree final terms that work for both sides and get the contract signed.",
         "exit_question": "Is the contract signed on terms our manager approved?",
         "guidance": "Know your room to move before the call. Discounts beyond the standard need a manager's "
                     "approval; involve procurement and legal early.",
         "entry": [_field("next-step", "A next step is agreed with the buyer", "next_step")],
         "exit": [
             PRICING_APPROVED,
             _check("paper_process", "Paper process: legal and procurement steps are known and done", "MEDDPICC"),
             CONTRACT_SIGNED,
         ]},
        *_closed([*HANDOFF, PRICING_APPROVED], post_sale=(ONBOARDING,)),
    ],
}


# After a b2b-9 win (the signed contract).
POST_SALE = {
    "key": "post-sale", "name": "Post-Sale", "probability": 100, "rot_days": 30,
    "goal": "Hand over warmly and agree how success will be measured.",
    "exit_question": "Has the customer kicked off with delivery and agreed how success is measured?",
    "guidance": "Join the kick-off. The next deal with this customer starts with how this one lands.",
    "exit": [
        _activity("kickoff-held", "A kick-off meeting was held", "meeting", "held"),
        _check("success_metrics", "Success measures agreed with the customer", "Handoff"),
    ],
}


# b2b-9 ------------------------------------------------------------------------------------------

B2B_9 = {
    "name": "B2B sales (9 stages)",
    "description": "A nine-step B2B sale with BANT qualification and MEDDPICC discipline through to post-sale.",
    "single_threaded_from": 5,
    "stages": [
        {"key": "prospecting", "name": "Prospecting", "probability": 5, "rot_days": 14,
         "goal": "Pick accounts and contacts that fit before the first touch.",
         "exit_question": "Did someone at a fitting account respond to us in a way that shows interest?",
         "guidance": "Filter hard on fit and buying signals. Only a real response moves a deal on.",
         "exit": PROSPECT_ANSWERED},
        {"key": "first-contact", "name": "First Contact", "probability": 10, "rot_days": 10,
         "goal": "Turn a response into a booked conversation with the right people.",
         "exit_question": "Is a dated meeting booked with the right contact?",
         "guidance": "Make the first touch about the buyer's world. Invite more than one stakeholder when you can.",
         "exit": [
             _contacts("contact-named", "A named contact is on the deal", None),
             _field("next-step", "The booked meeting is the next step", "next_step"),
             _field("next-step-due", "The next step has a date", "next_step_due"),
         ]},
        {"key": "lead-qualification", "name": "Lead Qualification", "probability": 20, "rot_days": 14,
         "goal": "Separate fit from mere interest with BANT.",
         "exit_question": "Do budget, authority, need and timeline all check out?",
         "guidance": "Disqualify early and often; a pipeline of real deals beats a full one.",
         "exit": [
             *BANT,
             _activity("qualification-call", "A qualification call connected in this stage", "call", "connected"),
         ]},
        {"key": "discovery", "name": "Discovery", "probability": 30, "rot_days": 21,
         "goal": "Confirm there is a real opportunity and learn the depth of the problem.",
         "exit_question": "Can we state the buyer's pain, its cost, and who inside is pushing for a fix?",
         "guidance": "Use the MEDDPICC questions as a guide, not a script. Find a champion and map the others.",
         "exit": [
             _activity("discovery-meeting", "A discovery meeting was held in this stage", "meeting", "held"),
             _check("metrics", "Metrics: the measurable gain the buyer expects", "MEDDPICC"),
             _check("identify_pain", "Identify pain: the problem and its cost today", "MEDDPICC"),
             _check("champion", "Champion: someone inside sells for us, and we tested it", "MEDDPICC"),
             _contacts("champion-named", "The champion is on the deal", "champion"),
         ]},
        {"key": "demo", "name": "Demo", "probability": 45, "rot_days": 14,
         "goal": "Prove we understood by showing the solution against the buyer's own use cases.",
         "exit_question": "Did the stakeholders agree the solution fits and ask for a proposal?",
         "guidance": "Follow the buyer's day, not the product menu. Note who leaned in and on what.",
         "entry": [_contacts("stakeholders", "At least two stakeholders are engaged (multi-threaded)", None, 2)],
         "exit": [
             _activity("demo-held", "The demo meeting was held in this stage", "meeting", "held"),
             _check("decision_criteria", "Decision criteria: how the buyer will compare options", "MEDDPICC"),
             _check("competition", "Competition: who else is in the running, including doing nothing",
                    "MEDDPICC"),
         ]},
        {"key": "proposal", "name": "Proposal", "probability": 60, "rot_days": 14,
         "goal": "Make the way forward concrete: scope, price, terms and expected outcomes.",
         "exit_question": "Does the buyer agree on scope, price and terms, and is sign-off the next step?",
         "guidance": "Capture everything discussed so far so the champion can sell it internally. "
                     "Follow up within three days of sending.",
         "entry": VALUE_AND_DATE_SET,
         "exit": [
             _activity("proposal-sent", "The proposal was sent by email", "email", "sent"),
             _check("economic_buyer", "Economic buyer: the person who owns the budget has seen the offer",
                    "MEDDPICC"),
             _check("decision_process", "Decision process: the steps and dates to a signature are known",
                    "MEDDPICC"),
             _contacts("economic-buyer-named", "The economic buyer is on the deal", "economic_buyer"),
         ]},
        {"key": "negotiation", "name": "Negotiation", "probability": 75, "rot_days": 21,
         "goal": "Shape an agreement that works for both sides without losing momentum.",
         "exit_question": "Have both sides agreed on terms, price and conditions?",
         "guidance": "Prepare your concessions in advance; involve procurement, finance and legal early.",
         "entry": [_field("forecast", "Forecast category is best case or commit", "forecast_category", "in",
                          ["best_case", "commit"])],
         "exit": [
             PRICING_APPROVED,
             _check("paper_process", "Paper process: legal and procurement route is mapped", "MEDDPICC"),
             _check("terms_agreed", "Terms, price and conditions agreed with the buyer", "Contract"),
         ]},
        {"key": "closing", "name": "Closing", "probability": 90, "rot_days": 14,
         "goal": "Get the contract signed quickly and cleanly.",
         "exit_question": "Is the contract fully signed and the deal booked?",
         "guidance": "Stay visible, answer fast and guide the buyer through their signature steps.",
         "exit": [
             _approval("contract_reviewed", "Contract wording reviewed by a manager or admin"),
             CONTRACT_SIGNED,
         ]},
        *_closed([*HANDOFF, PRICING_APPROVED], post_sale=(POST_SALE,)),
    ],
}


# distributor-5 ----------------------------------------------------------------------------------

DISTRIBUTOR_CLOSE_CONDITIONS = [
    PRICING_APPROVED,
    _approval("inventory_available", "Inventory is available for the order", ("rep", "manager", "admin")),
    _approval("delivery_date_confirmed", "Delivery date confirmed with operations", ("rep", "manager", "admin")),
    _approval("credit_approved", "Customer credit approved", ("manager", "admin")),
]

DISTRIBUTOR_5 = {
    "name": "Distributor accounts (5 stages)",
    "description": "For distributors: opportunities from account signals and leads, closed on pricing, "
                   "stock, delivery and credit, then grown.",
    "single_threaded_from": 3,
    "stages": [
        {"key": "identification", "name": "Identification", "probability": 10, "rot_days": 10,
         "goal": "Capture an opportunity worth attention: a new lead, or a change in an existing account.",
         "exit_question": "Can we say in one sentence why this account needs us now?",
         "guidance": "Late reorders, dropped product lines, smaller orders and expired quotes are opportunities. "
                     "Write down the signal so the reason to call is never lost.",
         "exit": [
             _check("why_now", "Reason to act now is written down (signal or request)", "Fit"),
             _field("next-step", "A next step is planned", "next_step"),
         ]},
        {"key": "qualification-prioritization", "name": "Qualification & Prioritization", "probability": 25,
         "rot_days": 14,
         "goal": "Decide which opportunities deserve a rep's time now and which can wait.",
         "exit_question": "Is there real buying intent and enough value to work this now?",
         "guidance": "If you cannot tell at a glance why it is in the pipeline, it does not belong there yet.",
         "exit": [
             _check("buying_intent", "The buyer confirmed intent to order", "Qualification"),
             _field("amount", "Expected order value entered", "amount", "gt", 0),
             _field("close-date", "Expected order date set", "expected_close_date"),
             _contacts("buyer", "The purchasing decision maker is on the deal", "decision_maker"),
         ]},
        {"key": "active-selling", "name": "Active Selling & Follow-Up", "probability": 50, "rot_days": 14,
         "goal": "Quote, follow up and keep every open opportunity moving with a dated next step.",
         "exit_question": "Has the buyer received our quote and told us they intend to order?",
         "guidance": "Every open quote needs a follow-up date. Talk to the user as well as the buyer.",
         "exit": [
             _activity("quote-sent", "Quote sent by email in this stage", "email", "sent"),
             _activity("follow-up-call", "A follow-up call connected in this stage", "call", "connected"),
             _check("products_confirmed", "Products and quantities confirmed with the buyer", "Order"),
             _contacts("stakeholders", "At least two contacts involved (buyer and user)", None, 2),
         ]},
        {"key": "close-conversion", "name": "Close & Conversion", "probability": 80, "rot_days": 10,
         "goal": "Clear the operational conditions so the order can be placed without surprises.",
         "exit_question": "Are pricing, stock, delivery date and credit all confirmed?",
         "guidance": "An order is only real when pricing, inventory, delivery timing and credit are cleared. "
                     "Confirm each one instead of assuming it.",
         "exit": [*DISTRIBUTOR_CLOSE_CONDITIONS,
                  _check("po_received", "Purchase order received", "Order")]},
        {"key": "retention-expansion", "name": "Retention & Expansion", "probability": 95, "rot_days": 45,
         "goal": "Deliver what was promised and set up the next order.",
         "exit_question": "Did the first delivery land well and is the reorder rhythm agreed?",
         "guidance": "Hand over the agreed terms to operations and service, check in after delivery, and watch "
                     "for reorder and cross-sell signals.",
         "exit": [
             _activity("delivery-check-in", "A check-in call after delivery connected", "call", "connected"),
             _check("reorder_cadence", "Reorder rhythm agreed with the buyer", "Retention"),
         ]},
        *_closed([*DISTRIBUTOR_CLOSE_CONDITIONS, *HANDOFF[:2]]),
    ],
}


TEMPLATES: dict[str, dict[str, Any]] = {"b2b-7": B2B_7, "b2b-9": B2B_9, "distributor-5": DISTRIBUTOR_5}

DEFAULT_LOST_REASONS: list[tuple[str, str]] = [
    ("price", "Price too high"),
    ("no-budget", "No budget"),
    ("competitor", "Chose a competitor"),
    ("no-decision", "No decision (stayed with status quo)"),
    ("timing", "Bad timing"),
    ("bad-fit", "Not a fit"),
    ("went-silent", "Buyer went silent"),
]
