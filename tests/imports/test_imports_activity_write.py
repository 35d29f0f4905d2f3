"""The write phase of an activities import (ActivityImporter.write), read back row by row.

Written for the mutants that survived in it (bench/mutation.sh import-write): no test read an
imported activity's account, outcome, notes or author, the deal's version and last activity after
two activities, or an activity on an account the file creates.
"""

from __future__ import annotations

import datetime as dt

from dealgate.deals.models import Account, Activity, Deal
from dealgate.imports.services import import_file

UTC = dt.timezone.utc
MAPPING = {"columns": {"kind": "kind", "subject": "subject", "when": "occurred_at", "deal": "deal_id",
                       "company": "account", "outcome": "outcome", "notes": "notes", "by": "by"},
           "date_formats": ["%Y-%m-%d %H:%M"]}
HEADER = "kind,subject,when,deal,company,outcome,notes,by\n"


def test_activities_on_a_deal_keep_every_column_and_bump_the_deal_once_per_import(world, make_deal, csv_file):
    """Two activities on alice's deal (version 1): a call by carol on May 2 and a meeting with no
    "by" on May 3. Both carry the deal's account; the one without an author is the importer's
    (dave). The deal's last activity is the later one, May 3 09:30, and its version goes up by one."""
    deal = make_deal(title="Roll-out")
    version = Deal.objects.get(pk=deal.pk).version
    text = HEADER + (f"call,Intro,2026-05-02 10:00,{deal.pk},,Held,Asked for pricing,carol\n"
                     f"meeting,Demo,2026-05-03 09:30,{deal.pk},,no show,,\n")
    report = import_file("activities", csv_file(text), MAPPING, by=world.dave)
    assert report.written and report.created == 2
    rows = sorted(Activity.objects.filter(deal=deal).values_list(
        "kind", "subject", "account_id", "outcome", "notes", "by__username", "occurred_at"))
    assert rows == [
        ("call", "Intro", deal.account_id, "held", "Asked for pricing", "carol", dt.datetime(2026, 5, 2, 10, tzinfo=UTC)),
        ("meeting", "Demo", deal.account_id, "no_show", "", "dave", dt.datetime(2026, 5, 3, 9, 30, tzinfo=UTC)),
    ]
    deal.refresh_from_db()
    assert deal.last_activity_at == dt.datetime(2026, 5, 3, 9, 30, tzinfo=UTC)
    assert deal.version == version + 1


def test_an_activity_on_an_account_the_file_creates_is_filed_under_it(world, csv_file):
    """Row 2 names Globex (new): one account created, the email filed under it. Row 3 names Acme,
    which exists: the call is filed under Acme, no account created for it."""
    acme = Account.objects.create(name="Acme", owner=world.alice)
    text = HEADER + ("email,Welcome,2026-05-02 10:00,,Globex,,,\n"
                     "call,Check-in,2026-05-04 16:00,,Acme,,,\n")
    report = import_file("activities", csv_file(text), MAPPING, by=world.dave)
    assert (report.created, report.accounts_created) == (2, 1)
    globex = Account.objects.get(name="Globex")
    assert sorted(Activity.objects.values_list("subject", "deal_id", "account_id")) == [
        ("Check-in", None, acme.pk), ("Welcome", None, globex.pk)]


def test_an_activities_file_may_create_its_authors_as_reps(world, csv_file):
    Account.objects.create(name="Acme", owner=world.alice)
    text = HEADER + "call,Check-in,2026-05-04 16:00,,Acme,,,Zoe Park\n"
    report = import_file("activities", csv_file(text), MAPPING, by=world.dave, create_users=True)
    assert report.users_created == ["zoe.park"]
    assert Activity.objects.get().by.get_full_name() == "Zoe Park"
