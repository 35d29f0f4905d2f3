"""A per-pipeline rules version kept by database triggers (docs/decisions/008-cached-pipeline-rules.md).

Triggers rather than Django signals: signals miss `QuerySet.update`, `bulk_create`, raw SQL and
COPY, and the settings pages, template creation and imports use some of those. A trigger sees
every write, on SQLite and PostgreSQL alike, inside the writing transaction.
"""

import django.db.models.deletion
from django.db import migrations, models

VERSION_TABLE = "pipelines_rulesversion"
# (table, how a row names its pipeline) for the tables the rules are built from.
PER_PIPELINE = {
    "pipelines_stage": "{row}.pipeline_id",
    "pipelines_criterion": "(SELECT pipeline_id FROM pipelines_stage WHERE id = {row}.stage_id)",
}
# Tables that may be read by the rules of every pipeline (custom field types, lost reasons).
ALL_PIPELINES = ["pipelines_customfield", "pipelines_lostreason"]
EVENTS = ("INSERT", "UPDATE", "DELETE")


def _sqlite_statements(fresh: str) -> list[str]:
    statements = [
        f"CREATE TRIGGER pipelines_pipeline_rules_insert AFTER INSERT ON pipelines_pipeline BEGIN "
        f"INSERT INTO {VERSION_TABLE} (pipeline_id, version) VALUES (NEW.id, {fresh}); END",
        f"CREATE TRIGGER pipelines_pipeline_rules_update AFTER UPDATE ON pipelines_pipeline BEGIN "
        f"UPDATE {VERSION_TABLE} SET version = {fresh} WHERE pipeline_id = NEW.id; END",
    ]
    for table, pipeline_of in PER_PIPELINE.items():
        for event in EVENTS:
            rows = {"INSERT": ["NEW"], "UPDATE": ["OLD", "NEW"], "DELETE": ["OLD"]}[event]
            ids = ", ".join(pipeline_of.format(row=row) for row in rows)
            statements.append(
                f"CREATE TRIGGER {table}_rules_{event.lower()} AFTER {event} ON {table} BEGIN "
                f"UPDATE {VERSION_TABLE} SET version = {fresh} WHERE pipeline_id IN ({ids}); END"
            )
    for table in ALL_PIPELINES:
        for event in EVENTS:
            statements.append(
                f"CREATE TRIGGER {table}_rules_{event.lower()} AFTER {event} ON {table} BEGIN "
                f"UPDATE {VERSION_TABLE} SET version = {fresh}; END"
            )
    return statements


def _postgresql_statements(fresh: str) -> list[str]:
    statements = [
        "CREATE FUNCTION pipelines_pipeline_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'INSERT' THEN INSERT INTO {VERSION_TABLE} (pipeline_id, version) VALUES (NEW.id, {fresh}); "
        f"ELSE UPDATE {VERSION_TABLE} SET version = {fresh} WHERE pipeline_id = NEW.id; END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER pipelines_pipeline_rules AFTER INSERT OR UPDATE ON pipelines_pipeline "
        "FOR EACH ROW EXECUTE FUNCTION pipelines_pipeline_rules_changed()",
    ]
    for table, pipeline_of in PER_PIPELINE.items():
        statements += [
            f"CREATE FUNCTION {table}_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP <> 'INSERT' THEN UPDATE {VERSION_TABLE} SET version = {fresh} "
            f"WHERE pipeline_id = {pipeline_of.format(row='OLD')}; END IF; "
            f"IF TG_OP <> 'DELETE' THEN UPDATE {VERSION_TABLE} SET version = {fresh} "
            f"WHERE pipeline_id = {pipeline_of.format(row='NEW')}; END IF; "
            "RETURN NULL; END $$",
            f"CREATE TRIGGER {table}_rules AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_rules_changed()",
        ]
    statements.append(
        "CREATE FUNCTION pipelines_all_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"UPDATE {VERSION_TABLE} SET version = {fresh}; RETURN NULL; END $$"
    )
    for table in ALL_PIPELINES:
        statements.append(
            f"CREATE TRIGGER {table}_rules AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pipelines_all_rules_changed()"
        )
    return statements


# A fresh random 53-bit (PostgreSQL) / 64-bit (SQLite) number per changed row.
FRESH = {"sqlite": "random()", "postgresql": "floor(random() * 9007199254740991)::bigint"}
BUILDERS = {"sqlite": _sqlite_statements, "postgresql": _postgresql_statements}


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in BUILDERS:
        raise RuntimeError(f"rules-version triggers are written for SQLite and PostgreSQL, not {vendor}")
    for statement in BUILDERS[vendor](FRESH[vendor]):
        schema_editor.execute(statement)
    schema_editor.execute(
        f"INSERT INTO {VERSION_TABLE} (pipeline_id, version) SELECT id, {FRESH[vendor]} FROM pipelines_pipeline"
    )


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        names = ["pipelines_pipeline_rules_insert", "pipelines_pipeline_rules_update"] + [
            f"{table}_rules_{event.lower()}" for table in [*PER_PIPELINE, *ALL_PIPELINES] for event in EVENTS
        ]
        for name in names:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for table in ["pipelines_pipeline", *PER_PIPELINE, *ALL_PIPELINES]:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_rules ON {table}")
        for function in ["pipelines_pipeline_rules_changed", *(f"{t}_rules_changed" for t in PER_PIPELINE),
                         "pipelines_all_rules_changed"]:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}()")


class Migration(migrations.Migration):

    dependencies = [
        ("pipelines", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="RulesVersion",
            fields=[
                ("pipeline", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                                                  related_name="rules_version", serialize=False,
                                                  to="pipelines.pipeline")),
                ("version", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
