"""`dealgate init --template NAME`: create a pipeline, its stages and criteria from a template."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from dealgate.cli_support import DealgateCommand, fail, table
from dealgate.errors import DealgateError
from dealgate.pipelines.services import TEMPLATE_NAMES, create_pipeline_from_template


class Command(DealgateCommand):
    help = (
        "Create a pipeline from a ready template (stages, probabilities, entry and exit criteria) "
        "and the default lost reasons. Run it again with another --key to hold several pipelines."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--template", required=True, metavar="NAME",
            help=f"template to start from: {', '.join(TEMPLATE_NAMES)}",
        )
        parser.add_argument(
            "--key", default=None,
            help="short unique key of the new pipeline, used by the CLI and API (default: the template name)",
        )
        parser.add_argument("--name", default=None, help="display name of the new pipeline (default: the template's)")

    def handle(self, *args: Any, template: str, key: str | None, name: str | None, **options: Any) -> None:
        try:
            pipeline = create_pipeline_from_template(template, key=key, name=name)
        except DealgateError as exc:
            raise fail(exc) from None
        stages = pipeline.stages.order_by("position").annotate(
            entry=Count("criteria", filter=Q(criteria__phase="entry")),
            exit=Count("criteria", filter=Q(criteria__phase="exit")),
        )
        rows = [(s.position, s.key, s.name, s.kind, f"{s.probability}%", s.rot_days or "", s.entry, s.exit)
                for s in stages]
        self.stdout.write(f"Created pipeline {pipeline.key!r} ({pipeline.name}) from template {template!r}.\n")
        self.stdout.write(table(["#", "key", "stage", "kind", "prob.", "rot days", "entry", "exit"], rows,
                                right=(0, 4, 5, 6, 7)))
        self.stdout.write("\nEdit stages and criteria in the admin; `dealgate check` validates them.")
