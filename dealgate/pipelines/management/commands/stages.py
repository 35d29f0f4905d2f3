"""`dealgate stages list|add|remove|retire|restore|reorder PIPELINE ...`: a pipeline's stages from the console.

The same services as the settings pages and the API (`dealgate.web.pipeline_settings`): they check the
role, validate and write, with the audit entry's surface set to the CLI. Without --user (or
$DEALGATE_USER) the system acts, as in every other command; with it, only an administrator may
change stages. Retiring is decision 036.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.db.models import Count

from dealgate.cli_support import DealgateCommand, acting_user, add_user_argument, dumps, known_pipeline, plural, table
from dealgate.deals.models import Deal
from dealgate.inputs import unstorable_reason
from dealgate.pipelines.models import Pipeline, Stage, StageKind
from dealgate.web import pipeline_settings as edits

KEY_MAX = 60


def _key(value: str, what: str) -> str:
    """A key typed on the command line, refused before any lookup when no key could look like it."""
    reason = unstorable_reason(value)
    if reason:
        raise CommandError(f"{what}: {reason}.")
    if len(value) > KEY_MAX:
        raise CommandError(f"{what}: {len(value):,} characters; a key has at most {KEY_MAX}.")
    return value


def _pipeline(key: str) -> Pipeline:
    return known_pipeline(_key(key, "pipeline"))


def _stage(pipeline: Pipeline, key: str) -> Stage:
    found = Stage.objects.select_related("pipeline").filter(pipeline=pipeline, key=_key(key, "stage")).first()
    if found is None:
        keys = ", ".join(pipeline.stages.order_by("position").values_list("key", flat=True))
        raise CommandError(f"{pipeline.name} has no stage {key!r} (stages: {keys}); "
                           f"`dealgate stages list {pipeline.key}` shows them.")
    return found


def stage_rows(pipeline: Pipeline) -> list[dict[str, Any]]:
    counts = dict(Deal.objects.filter(pipeline=pipeline).values("stage_id").annotate(n=Count("id"))
                  .values_list("stage_id", "n"))
    return [{"position": s.position, "key": s.key, "name": s.name, "kind": s.kind, "probability": s.probability,
             "rot_days": s.rot_days, "retired": s.is_retired, "deals": counts.get(s.pk, 0)}
            for s in pipeline.stages.order_by("position")]


class Command(DealgateCommand):
    help = ("A pipeline's stages: `stages list PIPELINE`, `stages add PIPELINE NAME [--after KEY]`, "
            "`stages remove|retire|restore PIPELINE KEY [--move-deals-to KEY]`, `stages reorder PIPELINE KEY ...`.")

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="list|add|remove|retire|restore|reorder")
        lister = sub.add_parser("list", help="the stages in order, with their deals and whether retired")
        lister.add_argument("pipeline", help="pipeline key")
        lister.add_argument("--json", action="store_true", help="print JSON instead of a table")
        adder = sub.add_parser("add", help="add an open stage (after the last open stage unless --after)")
        adder.add_argument("pipeline", help="pipeline key")
        adder.add_argument("name", help="the new stage's name")
        adder.add_argument("--after", help="key of the open stage to add it after")
        adder.add_argument("--kind", default="open", help="open (the only kind added: one Won and one Lost per "
                                                          "pipeline)")
        adder.add_argument("--probability", help="chance of winning, 0-99 (default: that of the stage before it)")
        adder.add_argument("--key", help="the stage's key (default: made from the name)")
        for name, text in (("remove", "remove a stage no deal has ever been in"),
                           ("retire", "take a stage off the board and out of moves; its history stays"),
                           ("restore", "put a retired stage back")):
            command = sub.add_parser(name, help=text)
            command.add_argument("pipeline", help="pipeline key")
            command.add_argument("stage", help="stage key")
            if name == "retire":
                command.add_argument("--move-deals-to", help="key of the stage its open deals move to, "
                                                             "through the gates")
                command.add_argument("--override-reason", help="force the moves the gates refuse, recorded "
                                                               "as overrides with this reason")
        reorder = sub.add_parser("reorder", help="put the open stages in a new order (every open stage once)")
        reorder.add_argument("pipeline", help="pipeline key")
        reorder.add_argument("stages", nargs="+", help="every open stage's key, in the new order")
        for command in sub.choices.values():
            add_user_argument(command)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        by = acting_user(options.get("user") or "")
        pipeline = _pipeline(options["pipeline"])
        if action == "list":
            return self.list(pipeline, options["json"])
        if action == "add":
            return self.add(pipeline, by, options)
        if action == "reorder":
            stages = edits.reorder_stages(pipeline, [_key(k, "stage") for k in options["stages"]], by=by)
            self.stdout.write(f"{pipeline.name}: {' → '.join(s.name for s in stages)}, then the closed stages.")
            return
        stage = _stage(pipeline, options["stage"])
        if action == "remove":
            edits.remove_stage(stage, by=by)
            self.stdout.write(f"Removed the stage {stage.name} from {pipeline.name}.")
        elif action == "retire":
            target = options.get("move_deals_to")
            stage = edits.retire_stage(stage, by=by, move_deals_to=_key(target, "--move-deals-to") if target else None,
                                       override_reason=options.get("override_reason"))
            moved = f" {plural(stage.moved_deals, 'open deal')} moved to {target}." if stage.moved_deals else ""
            self.stdout.write(f"Retired the stage {stage.name}: off the board and the move menus; its history "
                              f"and figures stay.{moved} `dealgate stages restore {pipeline.key} {stage.key}` "
                              "puts it back.")
        else:
            edits.restore_stage(stage, by=by)
            self.stdout.write(f"Restored the stage {stage.name}: deals can be moved to it again.")

    def add(self, pipeline: Pipeline, by: Any, options: dict[str, Any]) -> None:
        if options["kind"] != StageKind.OPEN:
            raise CommandError(f"--kind {options['kind'][:40]!r}: only open stages are added; a pipeline keeps "
                               "exactly one Won and one Lost stage.")
        after = _key(options["after"], "--after") if options.get("after") else None
        probability = options.get("probability")
        if probability is None:
            before = _stage(pipeline, after) if after else pipeline.stages.filter(
                kind=StageKind.OPEN).order_by("position").last()
            probability = before.probability if before is not None and before.kind == StageKind.OPEN else None
        stage = edits.add_stage(pipeline, by=by, name=options["name"], probability=probability, after=after,
                                key=_key(options["key"], "--key") if options.get("key") else None)
        self.stdout.write(f"Added the stage {stage.name} ({stage.key}, {stage.probability}%) to {pipeline.name} "
                          f"at position {stage.position}. Add its criteria in Settings.")

    def list(self, pipeline: Pipeline, as_json: bool) -> None:
        rows = stage_rows(pipeline)
        if as_json:
            self.stdout.write(dumps(rows))
            return
        self.stdout.write(table(
            ["#", "key", "stage", "kind", "prob.", "deals", "status"],
            [[r["position"], r["key"], r["name"], r["kind"], f"{r['probability']}%", r["deals"],
              "retired" if r["retired"] else ""] for r in rows], right=(0, 4, 5)))
