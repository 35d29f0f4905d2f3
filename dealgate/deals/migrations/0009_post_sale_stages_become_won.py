"""b2b-7's Onboarding and b2b-9's Post-Sale stop being selling stages (decision 010).

The signature is the win. For each pipeline made from those templates:
- every deal sitting in that stage becomes won, dated when it entered the stage: a `won` history
  row is appended at that instant (marked as an override by the system, with the reason below),
  and the deal's `closed_at` is that instant, so win rate, cycle length and the as-of figures
  count the win from then;
- the stage becomes a post-sale stage (kind `post`) placed after Won: its criteria are the
  checklist every won deal of the pipeline works through. History rows that reference it stay
  as they are (append-only);
- the pipeline's state spans are rebuilt from the history, as any change of a stage's kind does.
"""

from django.db import migrations
from django.db.models import F

POST_SALE_STAGES = (("b2b-7", "onboarding"), ("b2b-9", "post-sale"))
REASON = ("Signed and in {stage} when {stage} became the post-sale phase of won deals (migration, "
          "decision 010): won as of the day it entered {stage}.")


def convert(apps, schema_editor):
    Stage = apps.get_model("pipelines", "Stage")
    for template, key in POST_SALE_STAGES:
        for stage in Stage.objects.filter(pipeline__template=template, key=key, kind="open"):
            won = Stage.objects.filter(pipeline_id=stage.pipeline_id, kind="won").first()
            if won is None:  # a pipeline edited past recognition: `dealgate check` reports it
                continue
            _win_deals_in(apps, stage, won)
            _make_post_sale(apps, stage)
            from dealgate.deals.timeline import refresh_spans

            refresh_spans(pipeline_id=stage.pipeline_id)


def _win_deals_in(apps, stage, won):
    Deal, StageHistory = apps.get_model("deals", "Deal"), apps.get_model("deals", "StageHistory")
    deals = Deal.objects.filter(stage_id=stage.pk, closed_at__isnull=True)
    reason = REASON.format(stage=stage.name)
    rows = [
        StageHistory(deal_id=deal_id, from_stage_id=stage.pk, to_stage_id=won.pk, kind="won", at=entered, by=None,
                     amount=amount, currency=currency, probability=100, override=True, override_reason=reason)
        for deal_id, entered, amount, currency in deals.values_list("id", "stage_entered_at", "amount", "currency")
    ]
    StageHistory.objects.bulk_create(rows, batch_size=500)
    deals.update(stage_id=won.pk, closed_at=F("stage_entered_at"), version=F("version") + 1)


def _make_post_sale(apps, stage):
    """The stage becomes `post` and moves to just after Won (Won, post-sale..., Lost, then anything else)."""
    Stage = apps.get_model("pipelines", "Stage")
    Stage.objects.filter(pk=stage.pk).update(kind="post")
    tail = list(Stage.objects.filter(pipeline_id=stage.pipeline_id).exclude(kind="open").order_by("position"))
    rank = {"won": 0, "post": 1, "lost": 2}
    wanted = sorted(tail, key=lambda s: (rank.get(s.kind, 3), s.position))
    positions = sorted(s.position for s in tail)
    spare = max(positions) + 1
    for offset, row in enumerate(tail):  # out of the way first: positions are unique in a pipeline
        Stage.objects.filter(pk=row.pk).update(position=spare + offset)
    for position, row in zip(positions, wanted):
        Stage.objects.filter(pk=row.pk).update(position=position)


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0008_analytics_covering_indexes'),
        ('pipelines', '0003_stage_kind_post_sale'),
    ]

    operations = [
        migrations.RunPython(convert, migrations.RunPython.noop),
    ]
