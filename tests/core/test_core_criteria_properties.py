"""Properties of the criteria engine that must hold for any facts and any valid config.

The engine is a pure function of `DealFacts`, so hypothesis can throw thousands of shapes at it
without a database.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections import Counter
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealgate.pipelines.criteria import (
    ACTIVITY_KINDS,
    CONTACT_ROLES,
    CONFIG_SCHEMAS,
    CriterionConfigError,
    CriterionSpec,
    DealFacts,
    evaluate,
    evaluate_one,
    parse_config,
)

# As many examples as the Hypothesis profile gives (tests/conftest.py: 100 in CI, 2,000 deep).
modest = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENTERED = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
FIELDS = ["amount", "source", "title", "custom.score", "custom.flag"]
WORDS = ["inbound", "referral", "", "Acme", "12", "true"]

numbers = st.one_of(
    st.integers(-1000, 1000),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False),
)
field_values = st.one_of(st.none(), st.booleans(), numbers, st.sampled_from(WORDS),
                         st.sampled_from([Decimal("NaN"), float("inf"), "-Infinity", [], {}]))


def reference_number(value):
    """A finite Decimal for ints, floats, decimals and numeric text; None for anything else."""
    if value is None or isinstance(value, bool) or isinstance(value, (list, dict)):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def reference_equal(actual, expected) -> bool:
    left, right = reference_number(actual), reference_number(expected)
    if left is not None and right is not None:
        return left == right
    as_text = [json.dumps(v) if isinstance(v, bool) else str(v) for v in (actual, expected)]
    return as_text[0] == as_text[1]


def reference_field_met(op: str, expected, actual) -> bool:
    """The meaning of each operator, written out plainly for comparison with the engine."""
    empty = actual is None or (isinstance(actual, (str, list, dict)) and len(actual) == 0)
    if op == "set":
        return not empty
    if op == "true":
        return actual is True
    if empty:
        return False
    if op == "eq":
        return reference_equal(actual, expected)
    if op == "in":
        return any(reference_equal(actual, option) for option in expected)
    comparable = (reference_number(actual), reference_number(expected))
    return None not in comparable and getattr(operator, op.replace("gte", "ge").replace("lte", "le"))(*comparable)


@st.composite
def field_configs(draw):
    op = draw(st.sampled_from(["set", "true", "eq", "in", "gt", "gte", "lt", "lte"]))
    config = {"field": draw(st.sampled_from(FIELDS)), "op": op}
    if op == "eq":
        config["value"] = draw(st.one_of(numbers, st.sampled_from(WORDS), st.booleans()))
    elif op == "in":
        config["value"] = draw(st.lists(st.one_of(numbers, st.sampled_from(WORDS)), max_size=4))
    elif op in ("gt", "gte", "lt", "lte"):
        config["value"] = draw(st.one_of(numbers, numbers.map(str)))
    return config


@st.composite
def deal_facts(draw):
    custom = {"score": draw(field_values), "flag": draw(field_values)}
    fields = {"amount": draw(field_values), "source": draw(field_values), "title": draw(field_values),
              "custom_fields": custom}
    when = st.integers(-30, 30).map(lambda days: ENTERED + dt.timedelta(days=days))
    activities = draw(st.lists(st.tuples(st.sampled_from(ACTIVITY_KINDS), st.sampled_from(["held", "no_show", ""]),
                                         when), max_size=6))
    roles = Counter(draw(st.lists(st.sampled_from(CONTACT_ROLES), max_size=5)))
    return DealFacts(
        fields=fields, stage_entered_at=ENTERED,
        checklist=draw(st.dictionaries(st.sampled_from(["budget", "authority", "need"]),
                                       st.sampled_from(["", "  ", "CFO said yes"]), max_size=3)),
        approvals=set(draw(st.lists(st.sampled_from(["pricing", "credit"]), max_size=2))),
        activities=activities, contact_roles=roles,
        contact_count=draw(st.integers(min_value=1 if roles else 0, max_value=6)),
    )


def any_config():
    return st.one_of(
        field_configs().map(lambda c: ("field", c)),
        st.fixed_dictionaries({"item": st.sampled_from(["budget", "authority", "need"]),
                               "require_evidence": st.booleans()}).map(lambda c: ("checklist", c)),
        st.fixed_dictionaries({"activity": st.sampled_from(ACTIVITY_KINDS),
                               "outcome": st.sampled_from([None, "held", "no_show"]),
                               "scope": st.sampled_from(["stage", "ever"]),
                               "min_count": st.integers(1, 3)}).map(lambda c: ("activity", c)),
        st.fixed_dictionaries({"role": st.sampled_from([None, *CONTACT_ROLES]),
                               "min_count": st.integers(1, 3)}).map(lambda c: ("contact_role", c)),
        st.fixed_dictionaries({"condition": st.sampled_from(["pricing", "credit"])}).map(lambda c: ("approval", c)),
    )


def make_spec(kind: str, config: dict) -> CriterionSpec:
    return CriterionSpec(key="k", label="L", kind=kind, config=parse_config(kind, config))


@modest
@given(config=field_configs(), facts=deal_facts())
def test_a_field_criterion_holds_exactly_when_the_reference_predicate_does(config, facts):
    name = config["field"]
    actual = facts.fields["custom_fields"][name[7:]] if name.startswith("custom.") else facts.fields[name]
    result = evaluate_one(make_spec("field", config), facts)
    assert result.met is reference_field_met(config["op"], config.get("value"), actual)


@modest
@given(kind_config=any_config(), facts=deal_facts())
def test_a_result_is_met_exactly_when_nothing_is_missing(kind_config, facts):
    result = evaluate_one(make_spec(*kind_config), facts)
    assert result.met is (result.missing == "")
    assert (result.key, result.label, result.kind) == ("k", "L", kind_config[0])


@modest
@given(kind_config=any_config(), facts=deal_facts(), extra=st.data())
def test_adding_facts_never_turns_a_met_criterion_unmet(kind_config, facts, extra):
    spec = make_spec(*kind_config)
    before = evaluate_one(spec, facts)
    when = st.integers(-30, 30).map(lambda days: ENTERED + dt.timedelta(days=days))
    more_roles = Counter(extra.draw(st.lists(st.sampled_from(CONTACT_ROLES), max_size=3)))
    new_items = extra.draw(st.dictionaries(st.sampled_from(["budget", "authority", "need", "timeline"]),
                                           st.sampled_from(["", "evidence"]), max_size=3))
    richer = DealFacts(
        fields=facts.fields, stage_entered_at=facts.stage_entered_at,
        checklist={**new_items, **facts.checklist},  # new ticks; existing answers unchanged
        approvals=facts.approvals | set(extra.draw(st.lists(st.sampled_from(["pricing", "credit", "legal"])))),
        activities=facts.activities + extra.draw(st.lists(st.tuples(
            st.sampled_from(ACTIVITY_KINDS), st.sampled_from(["held", "no_show", ""]), when), max_size=4)),
        contact_roles=facts.contact_roles + more_roles,
        contact_count=facts.contact_count + extra.draw(st.integers(0, 3)) + (1 if more_roles else 0),
    )
    if before.met:
        assert evaluate_one(spec, richer).met


@modest
@given(kinds_configs=st.lists(any_config(), max_size=6), facts=deal_facts())
def test_evaluate_answers_one_result_per_criterion_in_order(kinds_configs, facts):
    specs = [CriterionSpec(key=f"k{i}", label="L", kind=k, config=parse_config(k, c))
             for i, (k, c) in enumerate(kinds_configs)]
    assert [r.key for r in evaluate(specs, facts)] == [s.key for s in specs]


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)
config_keys = st.sampled_from(["field", "op", "value", "item", "group", "require_evidence", "activity", "outcome",
                               "scope", "min_count", "role", "condition", "approver_roles"])
junk_dicts = st.dictionaries(st.one_of(config_keys, st.text(max_size=8)), json_values, max_size=5)


@modest
@given(kind=st.sampled_from(sorted(CONFIG_SCHEMAS)), config=junk_dicts)
def test_parse_config_answers_a_config_or_a_criterion_config_error_never_anything_else(kind, config):
    try:
        parsed = parse_config(kind, config)
    except CriterionConfigError as exc:
        assert str(exc).startswith(f"{kind} criterion")
    else:
        assert isinstance(parsed, CONFIG_SCHEMAS[kind])


@modest
@given(kind=st.sampled_from(sorted(CONFIG_SCHEMAS)), config=junk_dicts, junk=json_values)
def test_parse_config_refuses_any_config_with_an_unknown_key(kind, config, junk):
    config = {**config, "zz_not_a_setting": junk}
    try:
        parse_config(kind, config)
    except CriterionConfigError as exc:
        assert "zz_not_a_setting" in str(exc) or str(exc).startswith(f"{kind} criterion")
    else:
        raise AssertionError(f"accepted {config!r}")


@modest
@given(kind=st.one_of(st.text(max_size=10), st.sampled_from(sorted(CONFIG_SCHEMAS))), config=json_values)
def test_parse_config_refuses_unknown_kinds_and_non_objects(kind, config):
    if kind in CONFIG_SCHEMAS and isinstance(config, dict):
        return
    try:
        parse_config(kind, config)
    except CriterionConfigError:
        pass
    else:
        raise AssertionError(f"accepted {kind!r} {config!r}")
