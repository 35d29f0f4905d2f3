"""What `import_file` itself answers, and whose fields a re-import of records audits.

Written for the mutants of the import write path that no test in tests/imports told apart
(bench/mutation.sh import-write, survivors of `import_file` and `RecordImporter._audit_changes`):
no test read the whole words of a refused importer, of a manager asking to create users or of a
key written by someone else during the write; ran an import without choosing `run_rules`; read a
file through the mapping's own delimiter and encoding; read the report's kind and time; or
re-imported two records that changed different fields. Expected values come from the rows below.

That last case showed a real bug, fixed since: a re-import wrote the union of the changed fields to
every changed record, so a field one record kept was overwritten with the model's default when
another record changed it (accounts and contacts alike). The audit test before it keeps clear of
it (the fields kept there are empty, which is also their default).
"""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django_tasks_db.models import DBTaskResult

from dealgate.audit.models import AuditEntry
from dealgate.deals.models import Account, Deal
from dealgate.errors import Conflict, NotAllowed
from dealgate.imports.services import import_file

ACCOUNTS = {"external_id": "id", "columns": {"name": "name", "segment": "segment", "owner": "owner"}}
DEALS = {"external_id": "ref",
         "columns": {"title": "title", "account": "account", "owner": "owner", "stage": "stage", "amount": "amount",
                     "created": "created_at"},
         "pipeline": "test"}
# D-1 enters qualify (the first stage) only: one "created" event. D-2 is created in qualify, then
# moved to propose: "created" and "moved". Three events in all.
DEAL_ROWS = ("ref,title,account,owner,stage,amount,created\n"
             "D-1,Roll-out,Acme,alice,qualify,1000,2026-01-10\n"
             "D-2,Pilot,Beta,alice,propose,500,2026-01-11\n")


def _entries(action):
    return sorted((e.object_name, e.field, e.before, e.after, e.by and e.by.username, e.surface)
                  for e in AuditEntry.objects.filter(object_type="account", action=action).select_related("by"))


def test_a_rep_may_not_import_and_is_told_who_may(world, csv_file):
    """alice is a rep: refused before anything is read, in these words; no account written."""
    with pytest.raises(NotAllowed) as refused:
        import_file("accounts", csv_file("id,name\nA1,Acme\n"), ACCOUNTS, by=world.alice)
    assert str(refused.value) == "Only managers and admins may import data."
    assert Account.objects.count() == 0


def test_a_manager_may_not_create_users_in_an_import(world, csv_file):
    """bob is a manager: he may import, but only an administrator adds users; the whole message."""
    with pytest.raises(NotAllowed) as refused:
        import_file("accounts", csv_file("id,name,owner\nA1,Acme,Zoe Park\n"), ACCOUNTS, by=world.bob,
                    create_users=True)
    assert str(refused.value) == (
        "Only an administrator may create users in an import; map the owners to existing users "
        "under \"owners\", or ask an administrator to add them.")
    assert (Account.objects.count(), get_user_model().objects.filter(username="zoe.park").exists()) == (0, False)


def test_without_run_rules_an_import_holds_its_events_and_says_so(world, pipeline, csv_file):
    """`run_rules` not given: the rules do not run (docs/decisions/016). The three events of the two
    deals are counted as held, no job is queued, and the report says the rules were not run."""
    report = import_file("deals", csv_file(DEAL_ROWS), DEALS)
    assert (report.written, report.created, report.run_rules, report.rule_events) == (True, 2, False, 3)
    assert DBTaskResult.objects.count() == 0
    assert report.rules_line() == (
        "Rules: not run for these rows, so nobody is notified about imported deals or owners; "
        "choose Run automation rules (--run-rules) to run them. Stale-deal and close-date rules "
        "include the imported open deals from the worker's next check.")
    assert report.as_dict()["run_rules"] is False


def test_with_run_rules_the_report_says_the_events_went_to_the_rules(world, pipeline, csv_file):
    """run_rules=True: the same three events are queued (three jobs), and the report says so."""
    report = import_file("deals", csv_file(DEAL_ROWS), DEALS, run_rules=True)
    assert (report.written, report.run_rules, report.rule_events) == (True, True, 3)
    assert sorted(job.args_kwargs["args"][0] for job in DBTaskResult.objects.all()) == ["created", "created", "moved"]
    assert report.rules_line() == ("Rules: 3 changes (new deals, stage changes, new owners) sent to the "
                                   "automation rules; the worker runs them next.")
    assert sorted(Deal.objects.values_list("external_id", "stage__key")) == [("D-1", "qualify"), ("D-2", "propose")]


def test_a_file_is_read_with_the_mappings_delimiter_and_encoding(world):
    """The mapping says "|" and cp1252. The header has no comma, semicolon or tab to sniff, so only the
    mapping's delimiter splits it; the name's "é" (0xE9) and "€" (0x80) are cp1252 bytes that are not
    UTF-8 (nor, for 0x80, a printable latin-1 character). The comma inside the name is not a delimiter.
    One account, and the report names its kind: "accounts: 1 were created"."""
    mapping = {"columns": {"name": "name", "segment": "segment"}, "delimiter": "|", "encoding": "cp1252"}
    source = "name|segment\nCafé €, Ltd|SMB\n".encode("cp1252")
    report = import_file("accounts", source, mapping, by=world.dave)
    assert list(Account.objects.values_list("name", "segment", "owner__username")) == [("Café €, Ltd", "SMB", "dave")]
    assert report.kind == "accounts"
    assert report.summary() == "1 row read.\naccounts: 1 were created, 0 updated, 0 unchanged."


def test_the_report_gives_the_time_the_import_took(world, csv_file):
    """`seconds` is the time between the call and its answer: more than nothing, and no more than the
    time measured around the call."""
    path = csv_file("id,name\nA1,Acme\n")
    before = time.perf_counter()
    report = import_file("accounts", path, ACCOUNTS, by=world.dave)
    after = time.perf_counter()
    assert report.written
    assert 0 < report.seconds <= after - before


def test_a_key_written_by_someone_else_during_the_write_is_a_conflict_in_these_words(world, csv_file):
    """Account A-1 is new when the rows are read. The write creates the new rep Nina New first; right
    then another writer (a post_save receiver, a real insert) creates an account A-1, so the import's own
    insert of A-1 breaks the unique external id. The whole message; nothing stays, theirs included (it
    was written inside the import's transaction)."""
    def someone_else_writes_a1(sender, instance, created, **kwargs):
        if created and instance.username == "nina.new":
            Account.objects.create(name="Theirs", external_id="A-1", owner=world.carol)

    post_save.connect(someone_else_writes_a1, sender=get_user_model(), dispatch_uid="write-mutants-collision")
    try:
        with pytest.raises(Conflict) as conflict:
            import_file("accounts", csv_file("id,name,owner\nA-1,Acme,Nina New\n"), ACCOUNTS, create_users=True)
    finally:
        post_save.disconnect(sender=get_user_model(), dispatch_uid="write-mutants-collision")
    assert str(conflict.value) == ("Records with the same external ids were written while this import ran; nothing "
                                   "was imported. Run it again: it will update them.")
    assert (Account.objects.count(), get_user_model().objects.filter(username="nina.new").exists()) == (0, False)


def test_a_reimport_audits_only_the_fields_each_record_changed(world, csv_file):
    """Imported by the system (no owner by default). First file: Acme and Globex, no segment, no owner.
    Second file: A1 Acme gets segment SMB (owner cell still empty), A2 Globex gets owner bob (segment
    still empty). The import updates owner and segment together, but audits two entries: Acme's segment
    and Globex's owner; none for Acme's owner or Globex's segment, which each kept (empty before and after)."""
    import_file("accounts", csv_file("id,name,segment,owner\nA1,Acme,,\nA2,Globex,,\n"), ACCOUNTS)
    report = import_file("accounts", csv_file("id,name,segment,owner\nA1,Acme,SMB,\nA2,Globex,,bob\n"), ACCOUNTS)
    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    assert _entries("changed") == [
        ("Acme", "segment", "", "SMB", None, "import"),
        ("Globex", "owner", "", "bob", None, "import"),
    ]
    assert sorted(Account.objects.values_list("external_id", "segment", "owner__username")) == [
        ("A1", "SMB", None), ("A2", "", "bob")]


def test_a_reimport_keeps_the_fields_a_record_did_not_change(world, csv_file):
    """First file: A1 Acme (SMB, alice), A2 Globex (Enterprise, bob). Second file: A1 moves to
    Enterprise (owner kept), A2 goes to carol (segment kept). Acme must keep alice and Globex must keep
    Enterprise; two audit entries: Acme's segment and Globex's owner. (Before the fix Acme lost its
    owner and Globex its segment, written as None and "", and the audit log said so in two more entries.)"""
    import_file("accounts", csv_file("id,name,segment,owner\nA1,Acme,SMB,alice\nA2,Globex,Enterprise,bob\n"),
                ACCOUNTS, by=world.dave)
    import_file("accounts", csv_file("id,name,segment,owner\nA1,Acme,Enterprise,alice\n"
                                     "A2,Globex,Enterprise,carol\n"), ACCOUNTS, by=world.dave)
    assert sorted(Account.objects.values_list("external_id", "segment", "owner__username")) == [
        ("A1", "Enterprise", "alice"), ("A2", "Enterprise", "carol")]
    assert _entries("changed") == [
        ("Acme", "segment", "SMB", "Enterprise", "dave", "import"),
        ("Globex", "owner", "bob", "carol", "dave", "import"),
    ]


def test_a_contacts_reimport_keeps_the_fields_each_contact_did_not_change(world, csv_file):
    """First file: Jane (phone 111, CFO) and John (phone 222, CTO), matched by e-mail. Second file:
    Jane's phone is 333 (title kept), John's title is VP (phone kept). Jane keeps CFO and John keeps
    222; one audit entry each, for the field that changed."""
    mapping = {"columns": {"Name": "name", "Email": "email", "Phone": "phone", "Title": "title"}}
    import_file("contacts", csv_file("Name,Email,Phone,Title\nJane,jane@acme.test,111,CFO\nJohn,john@acme.test,222,CTO\n"),
                mapping, by=world.dave)
    import_file("contacts", csv_file("Name,Email,Phone,Title\nJane,jane@acme.test,333,CFO\nJohn,john@acme.test,222,VP\n"),
                mapping, by=world.dave)
    from dealgate.deals.models import Contact

    assert sorted(Contact.objects.values_list("name", "phone", "title")) == [("Jane", "333", "CFO"), ("John", "222", "VP")]
    assert sorted((e.object_name, e.field, e.before, e.after) for e in AuditEntry.objects.filter(
        object_type="contact", action="changed")) == [("Jane", "phone", "111", "333"), ("John", "title", "CTO", "VP")]
