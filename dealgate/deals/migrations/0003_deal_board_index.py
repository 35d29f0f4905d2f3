"""The board's index on deals: per column (pipeline, stage) in card order, with the header sums'
columns after the id so the column totals and the team filter read the index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0001_initial'),
    ]
    # Keeps one leaf while 0002 and the state-span migrations (0004, 0005) also start from 0001; the
    # lead chains the numbers when merging, after which this line can go.
    run_before = [('deals', '0004_state_spans')]

    operations = [
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['pipeline', 'stage', 'expected_close_date', '-id', 'amount', 'currency', 'probability_override', 'owner', 'team'], name='deal_board_idx'),
        ),
    ]
