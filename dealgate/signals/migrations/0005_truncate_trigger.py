"""PostgreSQL: a TRUNCATE of the order lines empties the rollups and forgets the last scan (decision 041)."""

from django.db import migrations

from dealgate.signals import rollups


def install(apps, schema_editor):
    rollups.install_truncate(schema_editor)


def uninstall(apps, schema_editor):
    rollups.uninstall_truncate(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("signals", "0004_units_recheck")]

    operations = [migrations.RunPython(install, uninstall)]
