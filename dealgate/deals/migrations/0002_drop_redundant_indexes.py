"""Drop single-column foreign-key indexes whose column already leads a composite index or a unique
constraint on the same table: lookups by that column use the composite one, and each index dropped
is one less to update on every inserted row (imports and the demo generator write 100,000s)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('deals', '0001_initial'),
        ('pipelines', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='activity',
            name='deal',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='activities', to='deals.deal'),
        ),
        migrations.AlterField(
            model_name='approval',
            name='deal',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='approvals', to='deals.deal'),
        ),
        migrations.AlterField(
            model_name='checklistanswer',
            name='deal',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='checklist_answers', to='deals.deal'),
        ),
        migrations.AlterField(
            model_name='deal',
            name='owner',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='deals', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='deal',
            name='pipeline',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='pipelines.pipeline'),
        ),
        migrations.AlterField(
            model_name='dealcontact',
            name='deal',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='contact_links', to='deals.deal'),
        ),
        migrations.AlterField(
            model_name='fieldchange',
            name='deal',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='field_changes', to='deals.deal'),
        ),
        migrations.AlterField(
            model_name='stagehistory',
            name='deal',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='history', to='deals.deal'),
        ),
        migrations.AlterField(
            model_name='stagehistory',
            name='to_stage',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='pipelines.stage'),
        ),
    ]
