"""The board index also carries the date-flag columns, so "flagged only" column sums and cards
read the index alone instead of every open deal's row (see Deal.Meta)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0004_state_spans'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='deal', name='deal_board_idx'),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['pipeline', 'stage', 'expected_close_date', '-id', 'amount', 'currency', 'probability_override', 'owner', 'team', 'next_step_due', 'close_date_slips', 'stage_entered_at', 'last_activity_at', 'next_step'], name='deal_board_idx'),
        ),
    ]
