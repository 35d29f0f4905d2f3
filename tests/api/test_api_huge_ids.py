"""Ids beyond the database's 64-bit range are bad input (422) or absent (404), never a crash."""

import pytest

HUGE = str(2**70)


@pytest.mark.parametrize("path", [f"/api/activities?deal={HUGE}", f"/api/activities?account={HUGE}",
                                  f"/api/contacts?account={HUGE}"])
def test_it_refuses_an_id_filter_beyond_64_bits(client, world, path):
    client.force_login(world.alice)
    response = client.get(path)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


@pytest.mark.parametrize("path", [f"/api/deals/{HUGE}", f"/api/accounts/{HUGE}", f"/api/contacts/{HUGE}"])
def test_it_answers_not_found_for_a_path_id_beyond_64_bits(client, world, path):
    client.force_login(world.alice)
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
