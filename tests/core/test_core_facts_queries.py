"""A move reads only the facts its criteria need, and nothing twice."""

from dealgate.deals import services
from dealgate.pipelines.criteria import load_facts


def test_it_reads_no_table_for_field_criteria_on_a_deal_in_hand(make_deal, django_assert_num_queries):
    deal = make_deal(amount="100")
    with django_assert_num_queries(0):
        facts = load_facts([deal.pk], deals=[deal], kinds={"field"})
    assert facts[deal.pk].fields["amount"] == deal.amount


def test_it_reads_one_table_per_kind_asked_for(make_deal, world, django_assert_num_queries):
    deal = make_deal()
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="CFO confirmed")
    with django_assert_num_queries(1):
        facts = load_facts([deal.pk], deals=[deal], kinds={"checklist"})
    assert facts[deal.pk].checklist == {"budget": "CFO confirmed"}
    with django_assert_num_queries(5):  # the deal row plus all four kinds of fact
        everything = load_facts([deal.pk])
    assert everything[deal.pk].checklist == {"budget": "CFO confirmed"}
