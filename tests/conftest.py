"""A small believable world shared by every test.

Team East: alice (rep) and bob (her manager). Team West: carol (rep). dave is an admin.
`pipeline` is a four-stage pipeline with one criterion of every kind:

    qualify (20%)  exit: amount > 0 [field], budget ticked with evidence [checklist]
    propose (60%)  entry: a decision maker on the deal [contact_role]
                   exit: a meeting with outcome 'held' in this stage [activity]
    negotiate (80%)
    won            entry: pricing approved by a manager [approval]
    lost
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from dealgate.deals import services as deal_services
from dealgate.people.services import create_team, create_user
from dealgate.pipelines.models import Criterion, LostReason, Pipeline, Stage

PASSWORD = "correct-horse-battery"

# Hypothesis: "ci" (the default) is reproducible, the same examples on every run and machine, so a
# red CI run is red again locally; "deep" (HYPOTHESIS_PROFILE=deep) tries twenty times as many
# random examples, for a local or scheduled run. Tests size themselves from `max_examples`.
hypothesis_settings.register_profile(
    "ci", max_examples=100, derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile(
    "deep", max_examples=2000, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The shared `world` hashes four passwords per test; the default hasher makes that seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Cached statistics (stuck thresholds) must not leak from one test's data into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    east = create_team(name="East")
    west = create_team(name="West")
    alice = create_user(username="alice", password=PASSWORD, role="rep", team=east, first_name="Alice")
    bob = create_user(username="bob", password=PASSWORD, role="manager", team=east, first_name="Bob")
    carol = create_user(username="carol", password=PASSWORD, role="rep", team=west, first_name="Carol")
    dave = create_user(username="dave", password=PASSWORD, role="admin", first_name="Dave")
    return SimpleNamespace(east=east, west=west, alice=alice, bob=bob, carol=carol, dave=dave, password=PASSWORD)


def build_test_pipeline(key: str = "test") -> Pipeline:
    pipeline = Pipeline.objects.create(key=key, name="Test pipeline")
    qualify = Stage.objects.create(pipeline=pipeline, key="qualify", name="Qualify", position=1, probability=20,
                                   rot_days=7, exit_question="Is there budget for this?")
    propose = Stage.objects.create(pipeline=pipeline, key="propose", name="Propose", position=2, probability=60,
                                   rot_days=10, exit_question="Did the buyer meet us about the proposal?")
    Stage.objects.create(pipeline=pipeline, key="negotiate", name="Negotiate", position=3, probability=80, rot_days=14)
    won = Stage.objects.create(pipeline=pipeline, key="won", name="Won", position=4, kind="won", probability=100)
    Stage.objects.create(pipeline=pipeline, key="lost", name="Lost", position=5, kind="lost", probability=0)
    Criterion.objects.create(stage=qualify, phase="exit", key="amount", label="Amount estimated", kind="field",
                             config={"field": "amount", "op": "gt", "value": 0}, position=1)
    Criterion.objects.create(stage=qualify, phase="exit", key="budget", label="Budget confirmed", kind="checklist",
                             config={"item": "budget", "group": "BANT"}, position=2)
    Criterion.objects.create(stage=propose, phase="entry", key="decision-maker", label="Decision maker identified",
                             kind="contact_role", config={"role": "decision_maker"})
    Criterion.objects.create(stage=propose, phase="exit", key="meeting", label="Proposal meeting held",
                             kind="activity", config={"activity": "meeting", "outcome": "held"})
    Criterion.objects.create(stage=won, phase="entry", key="pricing", label="Pricing approved", kind="approval",
                             config={"condition": "pricing_approved", "approver_roles": ["manager", "admin"]})
    for reason_key, label in (("price", "Price too high"), ("no-budget", "No budget"), ("competitor", "Chose a competitor")):
        LostReason.objects.get_or_create(key=reason_key, defaults={"label": label})
    return pipeline


@pytest.fixture
def pipeline(db):
    return build_test_pipeline()


@pytest.fixture
def make_deal(world, pipeline):
    """make_deal(owner=alice, title=..., amount=...) -> a new deal in the first stage, via the service."""
    counter = {"n": 0}

    def make(owner=None, title: str | None = None, account=None, **fields):
        owner = owner or world.alice
        counter["n"] += 1
        account = account or deal_services.create_account(by=owner, name=f"Account {counter['n']}")
        return deal_services.create_deal(
            by=owner, title=title or f"Deal {counter['n']}", account=account, pipeline=fields.pop("pipeline", pipeline),
            **fields,
        )

    return make
