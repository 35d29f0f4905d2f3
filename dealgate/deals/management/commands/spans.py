import time

from django.core.management.base import CommandError

from dealgate.cli_support import DealgateCommand
from dealgate.deals.models import StateSpan
from dealgate.deals.timeline import refresh_spans, repair_current_stages, vacuum_spans
from dealgate.pipelines.models import Pipeline


class Command(DealgateCommand):
    help = (
        "Rebuild the deals' state spans (what analytics reads) from the stage history and field changes. "
        "Every write keeps them current; use this after editing the database by hand or restoring a backup. "
        "A deal whose current stage disagrees with its history is put back in the stage its history ends in."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="delete and rebuild the spans")
        parser.add_argument("--pipeline", default="", help="only this pipeline (key); default: every pipeline")

    def handle(self, *args, rebuild, pipeline, **options):
        if not rebuild:
            self.stdout.write(f"{StateSpan.objects.count():,} state spans. Use --rebuild to rebuild them from the history.")
            return
        pipeline_id = None
        if pipeline:
            found = Pipeline.objects.filter(key=pipeline).first()
            if found is None:
                keys = ", ".join(Pipeline.objects.order_by("key").values_list("key", flat=True)) or "none"
                raise CommandError(f"No pipeline with key {pipeline!r} (pipelines: {keys}).")
            pipeline_id = found.pk
        started = time.perf_counter()
        repaired = repair_current_stages(pipeline_id=pipeline_id)
        if repaired:
            shown = ", ".join(str(pk) for pk in repaired[:20]) + (" ..." if len(repaired) > 20 else "")
            self.stdout.write(f"Put back in the stage their history ends in: {len(repaired):,} "
                              f"{'deal' if len(repaired) == 1 else 'deals'} ({shown}).")
        refresh_spans(pipeline_id=pipeline_id)
        vacuum_spans()
        spans = StateSpan.objects.filter(**({"pipeline_id": pipeline_id} if pipeline_id else {})).count()
        self.stdout.write(f"Rebuilt {spans:,} state spans in {time.perf_counter() - started:.1f} s.")
