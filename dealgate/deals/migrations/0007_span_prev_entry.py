from django.db import migrations, models

# Only re-entries have an earlier entry into the same stage, so only they are updated.
BACKFILL = """
UPDATE deals_statespan SET prev_entry_at = earlier.prev_entry_at
FROM (
  SELECT id, MAX(starts_at) OVER (PARTITION BY deal_id, stage_id ORDER BY starts_at, id
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_entry_at
  FROM deals_statespan WHERE history_id IS NOT NULL
) AS earlier
WHERE earlier.id = deals_statespan.id AND earlier.prev_entry_at IS NOT NULL"""


def fill_prev_entry(apps, schema_editor):
    """Spans built before this column get it from their own rows; a history without spans (a
    database that skipped 0004's build) gets all its spans built now."""
    from dealgate.deals.timeline import refresh_spans

    StateSpan, StageHistory = apps.get_model("deals", "StateSpan"), apps.get_model("deals", "StageHistory")
    if StateSpan.objects.exists():
        schema_editor.execute(BACKFILL)
    elif StageHistory.objects.exists():
        refresh_spans()


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0006_drop_closed_at_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='statespan',
            name='prev_entry_at',
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(fill_prev_entry, migrations.RunPython.noop),
    ]
