from dealgate.deals.models import StageHistory


def test_it_creates_a_deal_in_the_first_stage_with_a_history_row(make_deal):
    deal = make_deal(amount="1200")
    assert deal.stage.key == "qualify"
    rows = list(StageHistory.objects.filter(deal=deal).values_list("kind", "to_stage__key"))
    assert rows == [("created", "qualify")]
