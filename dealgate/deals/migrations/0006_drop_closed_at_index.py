"""Drop the index on deals.closed_at. Nothing reads a range of it; the one filter on it, "open"
(closed_at IS NULL), is best served by walking the newest-first index and stopping at the page
size. With the index there, SQLite's statistics (one NULL key among ~all-distinct dates) made it
read every open deal through it and sort them: the deal list's first page took 54 ms instead of
under 10 (bench/README.md, move and deal list)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0005_board_index_flag_columns'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='deal',
            name='deals_deal_closed__d7ba0e_idx',
        ),
    ]
