# Rules triggered by a raised signal: a rule run is on a deal or on a signal, claimed once per signal.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('automation', '0003_webhooks'),
        ('deals', '0009_post_sale_stages_become_won'),
        ('signals', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='rulerun',
            name='signal',
            field=models.ForeignKey(blank=True, help_text="For 'signal raised': the signal acted on.", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='rule_runs', to='signals.signal'),
        ),
        migrations.AlterField(
            model_name='rule',
            name='trigger',
            field=models.CharField(choices=[('deal_created', 'Deal created'), ('deal_assigned', 'Deal assigned to a new owner'), ('stage_entered', 'Deal entered a stage'), ('deal_won', 'Deal won'), ('deal_lost', 'Deal lost'), ('deal_idle', 'Deal idle (no move or activity)'), ('close_date_passed', 'Expected close date passed'), ('task_overdue', 'A task on the deal is overdue'), ('signal_raised', 'Signal raised on an account')], max_length=30),
        ),
        migrations.AlterField(
            model_name='rulerun',
            name='deal',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='rule_runs', to='deals.deal'),
        ),
        migrations.AlterField(
            model_name='rulerun',
            name='trigger',
            field=models.CharField(choices=[('deal_created', 'Deal created'), ('deal_assigned', 'Deal assigned to a new owner'), ('stage_entered', 'Deal entered a stage'), ('deal_won', 'Deal won'), ('deal_lost', 'Deal lost'), ('deal_idle', 'Deal idle (no move or activity)'), ('close_date_passed', 'Expected close date passed'), ('task_overdue', 'A task on the deal is overdue'), ('signal_raised', 'Signal raised on an account')], max_length=30),
        ),
        migrations.AddConstraint(
            model_name='rulerun',
            constraint=models.UniqueConstraint(condition=models.Q(('signal__isnull', False)), fields=('rule', 'signal'), name='rule_run_once_per_signal'),
        ),
        migrations.AddConstraint(
            model_name='rulerun',
            constraint=models.CheckConstraint(condition=models.Q(('deal__isnull', False), ('signal__isnull', False), _connector='OR'), name='rule_run_on_deal_or_signal'),
        ),
    ]
