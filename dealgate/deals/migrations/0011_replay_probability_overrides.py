"""Spans replay probability overrides (issue 15 section 2; docs/decisions/038): the spans of deals
with a logged override change are rebuilt, so an as-of figure reads the override in force then."""

from django.db import migrations


def rebuild_overridden(apps, schema_editor):
    from dealgate.deals.timeline import refresh_spans

    FieldChange = apps.get_model("deals", "FieldChange")
    ids = list(FieldChange.objects.filter(field="probability_override").values_list("deal_id", flat=True).distinct())
    if ids:
        refresh_spans(ids)


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0010_open_deal_scan_indexes'),
    ]

    operations = [
        migrations.RunPython(rebuild_overridden, migrations.RunPython.noop),
    ]
