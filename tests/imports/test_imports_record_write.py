"""The write phase of an accounts or contacts import: what it records besides the rows.

Written for the mutants that survived in `RecordImporter.write` and `_audit_changes`
(bench/mutation.sh import-write): no test read the audit log of an accounts import, checked that
an import without an external id column leaves `external_id` empty, or created a user from an
accounts file.
"""

from __future__ import annotations

from dealgate.audit.models import AuditEntry
from dealgate.deals.models import Account
from dealgate.imports.services import import_file

BY_ID = {"external_id": "id", "columns": {"name": "name", "segment": "segment", "owner": "owner"}}


def _entries(action):
    return sorted((e.object_name, e.field, e.before, e.after, e.by.username, e.surface)
                  for e in AuditEntry.objects.filter(object_type="account", action=action).select_related("by"))


def test_a_reimport_audits_each_changed_field_once_as_the_importer(world, csv_file):
    """First file: A1 Acme (SMB, alice), A2 Globex (Enterprise, bob): two "created" entries.
    Second file: A1 renamed Acme Inc, moved to Enterprise, given to carol; A2 the same: three
    "changed" entries, all on A1 (named as it was), none for A2 or for A1's unchanged external id."""
    first = csv_file("id,name,segment,owner\nA1,Acme,SMB,alice\nA2,Globex,Enterprise,bob\n")
    import_file("accounts", first, BY_ID, by=world.dave)
    assert _entries("created") == [("Acme", "", "", "", "dave", "import"), ("Globex", "", "", "", "dave", "import")]
    assert _entries("changed") == []

    second = csv_file("id,name,segment,owner\nA1,Acme Inc,Enterprise,carol\nA2,Globex,Enterprise,bob\n")
    report = import_file("accounts", second, BY_ID, by=world.dave)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert _entries("changed") == [
        ("Acme", "name", "Acme", "Acme Inc", "dave", "import"),
        ("Acme", "owner", "alice", "carol", "dave", "import"),
        ("Acme", "segment", "SMB", "Enterprise", "dave", "import"),
    ]
    acme = Account.objects.get(external_id="A1")
    assert (acme.name, acme.segment, acme.owner) == ("Acme Inc", "Enterprise", world.carol)


def test_without_an_external_id_column_accounts_keep_no_external_id(world, csv_file):
    """Matched by name: the name is the key, never stored as an external id (which would make the
    next file's real ids clash with it)."""
    mapping = {"columns": {"name": "name", "segment": "segment"}}
    report = import_file("accounts", csv_file("name,segment\nAcme,SMB\nGlobex,\n"), mapping, by=world.dave)
    assert report.created == 2
    assert sorted(Account.objects.values_list("name", "external_id", "owner__username")) == [
        ("Acme", None, "dave"), ("Globex", None, "dave")]


def test_an_accounts_file_may_create_its_owners_as_reps(world, csv_file):
    mapping = {"columns": {"name": "name", "owner": "owner"}}
    report = import_file("accounts", csv_file("name,owner\nAcme,Zoe Park\n"), mapping, by=world.dave,
                         create_users=True)
    assert report.users_created == ["zoe.park"]
    acme = Account.objects.select_related("owner").get(name="Acme")
    assert (acme.owner.username, acme.owner.get_full_name()) == ("zoe.park", "Zoe Park")


def test_a_contact_moved_to_another_account_is_audited_by_account_name(world, csv_file):
    """Matched by e-mail; the second file puts Jane at Globex: one "changed" entry, account Acme -> Globex."""
    mapping = {"columns": {"Name": "name", "Email": "email", "Company": "account"}}
    import_file("contacts", csv_file("Name,Email,Company\nJane Doe,jane@acme.test,Acme\n"), mapping, by=world.dave)
    import_file("contacts", csv_file("Name,Email,Company\nJane Doe,jane@acme.test,Globex\n"), mapping, by=world.dave)
    changed = [(e.object_type, e.object_name, e.field, e.before, e.after, e.by.username)
               for e in AuditEntry.objects.filter(action="changed").select_related("by")]
    assert changed == [("contact", "Jane Doe", "account", "Acme", "Globex", "dave")]
