"""Property-based checks of the whole API against its own OpenAPI document (schemathesis).

Every generated request, valid or not, must get an answer the document declares: no 500s, a
declared status code, the declared content type and a body matching the declared schema; and a
request the document calls invalid must be refused.
Path ids are pointed at real rows so the fuzzer reaches the services, not only the 404s.
"""

from __future__ import annotations

import os

import pytest
from django.core import signals
from django.db import close_old_connections
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from dealgate.api.services import create_token
from dealgate.deals import services as deal_services
from dealgate.wsgi import application

# negative_data_rejection: a request the document calls invalid (an array where it promises an object,
# a wrong type, a value out of range) must be refused with a 4xx, so the document never promises
# less than the API enforces. (The reverse, positive_data_acceptance, is not asked: the services
# refuse schema-valid values the document cannot express, such as a forged cursor or a blank name
# after trimming; those answer the declared 422 naming the field.)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]

# Examples per operation: a quarter of the Hypothesis profile's (tests/conftest.py), so 25 in CI
# (fixed seed, the same requests every run) and 500 with HYPOTHESIS_PROFILE=deep. 25 reach each
# operation's refusals (404 for unknown ids, 422 for bad bodies, 409 for conflicts) as well as its
# successes; see docs/testing.md for the measured time.
EXAMPLES = int(os.environ.get("DEALGATE_FUZZ_EXAMPLES") or max(6, settings.default.max_examples // 4))
# DEALGATE_FUZZ_LOG=file appends "METHOD path status" per request: which answers each operation reached.
FUZZ_LOG = os.environ.get("DEALGATE_FUZZ_LOG")


def _call(case, headers):
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    if FUZZ_LOG:
        with open(FUZZ_LOG, "a", encoding="utf-8") as log:
            log.write(f"{case.operation.method.upper()} {case.operation.path} {response.status_code}\n")


# Loading the document touches no table, so it can happen at collection time.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def wsgi_calls_keep_the_test_transaction(db):
    """Schemathesis calls the WSGI app directly, and Django closes the connection at the end of each
    request; the test client avoids that the same way, so the test's transaction survives the call."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def real_ids(world, make_deal):
    deal = make_deal(owner=world.alice, amount=1000)
    contact = deal_services.create_contact(by=world.alice, name="Pat", account=deal.account)
    deal_services.link_contact(deal, contact, "champion", by=world.alice)
    token, _ = create_token(user=world.bob, name="fuzzed")
    return {"deal_id": deal.pk, "account_id": deal.account_id, "contact_id": contact.pk, "token_id": token.pk}


def path_is_negative(case) -> bool:
    """A path generated to break its schema must reach the API broken: pointing it at a real row
    would turn the request valid, and the API's 200 would then read as a negative case accepted."""
    info = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    return info is not None and info.mode.is_negative


REAL_KEYS = {"key": "test", "stage_key": "qualify", "criterion_key": "budget", "item": "budget", "role": "champion"}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate], database=None)
def test_the_api_answers_every_request_as_its_schema_says(case, wsgi_calls_keep_the_test_transaction, real_ids,
                                                          auth, world):
    for name, value in real_ids.items():
        if isinstance((case.path_parameters or {}).get(name), int) and not path_is_negative(case):
            case.path_parameters[name] = value
    # Real keys too, so a path with a key reaches its service (and its refusals), not only 404.
    for name, value in REAL_KEYS.items():
        if name in (case.path_parameters or {}) and not path_is_negative(case):
            case.path_parameters[name] = value
    _call(case, auth(world.bob))


# The admin edits of pipelines answer 403 to the manager above before looking at the body; fuzz
# them again as an admin so the generated bodies reach the Settings services and the database.
admin_edits = schema.include(path_regex=r"^/api/pipelines/\{key\}", method=["PATCH", "POST", "DELETE"])


@admin_edits.parametrize()
@settings(max_examples=2 * EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate], database=None)
def test_the_pipeline_edits_answer_an_admin_as_their_schema_says(case, wsgi_calls_keep_the_test_transaction, pipeline,
                                                                 auth, world):
    # Real keys of the test pipeline, so the bodies are checked by the services, not only answered 404.
    for name in (case.path_parameters or {}) if not path_is_negative(case) else ():
        case.path_parameters[name] = REAL_KEYS[name]
    _call(case, auth(world.dave))


# The rules API answers 403 to the manager above; fuzz it as an admin too, against a real rule.
rule_edits = schema.include(path_regex=r"^/api/rules")


@rule_edits.parametrize()
@settings(max_examples=2 * EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate], database=None)
def test_the_rules_api_answers_an_admin_as_its_schema_says(case, wsgi_calls_keep_the_test_transaction, pipeline,
                                                           auth, world):
    from dealgate.automation import services as automation

    rule = automation.create_rule(by=world.dave, name="Follow up", trigger="deal_created", pipeline=pipeline,
                                  actions=[{"type": "create_task", "title": "Call"}])
    if "rule_id" in (case.path_parameters or {}) and not path_is_negative(case):
        case.path_parameters["rule_id"] = rule.pk
    _call(case, auth(world.dave))
