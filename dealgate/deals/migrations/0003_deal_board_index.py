"""The board's index on deals: per column (pipeline, stage) in card order, with the header sums'
columns after the id so the column totals and the team filter read the index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0002_drop_redundant_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['pipeline', 'stage', 'expected_close_date', '-id', 'amount', 'currency', 'probability_override', 'owner', 'team'], name='deal_board_idx'),
        ),
    ]
