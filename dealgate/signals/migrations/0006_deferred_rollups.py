"""PostgreSQL: the insert trigger leaves the rollups alone while `dealgate.rollups_deferred` is 'on' in the
writer's transaction; a large write rebuilds its accounts' rollups itself (decision 045)."""

from django.db import migrations

from dealgate.signals import rollups


def replace_functions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # CREATE OR REPLACE of the functions only (the triggers stay); the insert one now checks the setting
        for statement in rollups.pg_statements():
            if statement.lstrip().startswith("CREATE OR REPLACE FUNCTION"):
                schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("signals", "0005_truncate_trigger")]

    operations = [migrations.RunPython(replace_functions, migrations.RunPython.noop)]
