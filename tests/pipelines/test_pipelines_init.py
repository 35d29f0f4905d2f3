"""`dealgate init --template NAME`: output, several pipelines side by side, and exit code 1 on errors."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.pipelines.models import Criterion, Pipeline


def run_init(*args: str) -> str:
    out = io.StringIO()
    call_command("init", *args, stdout=out)
    return out.getvalue()


def test_it_prints_each_stage_with_its_criteria_counts(db):
    output = run_init("--template", "b2b-7")
    pipeline = Pipeline.objects.get(key="b2b-7")
    assert "Created pipeline 'b2b-7'" in output
    for stage in pipeline.stages.all():
        entry = Criterion.objects.filter(stage=stage, phase="entry").count()
        exit_ = Criterion.objects.filter(stage=stage, phase="exit").count()
        line = next(line for line in output.splitlines() if f" {stage.key} " in line)
        assert stage.name in line and f"{stage.probability}%" in line
        assert line.split()[-2:] == [str(entry), str(exit_)]


def test_it_holds_several_pipelines_from_the_same_template_under_different_keys(db):
    run_init("--template", "distributor-5")
    output = run_init("--template", "distributor-5", "--key", "dist-north", "--name", "North distributors")
    assert "'dist-north' (North distributors)" in output
    assert sorted(Pipeline.objects.values_list("key", flat=True)) == ["dist-north", "distributor-5"]


def test_it_exits_with_an_error_on_a_taken_key_and_suggests_key(db):
    run_init("--template", "b2b-9", "--key", "sales")
    with pytest.raises(CommandError) as refused:
        run_init("--template", "b2b-7", "--key", "sales")
    assert "already exists" in str(refused.value) and "--key" in str(refused.value)
    assert refused.value.returncode == 1
    assert Pipeline.objects.get(key="sales").template == "b2b-9"


def test_it_exits_with_an_error_on_an_unknown_template_naming_the_valid_ones(db):
    with pytest.raises(CommandError) as refused:
        run_init("--template", "saas-12")
    assert "b2b-7, b2b-9, distributor-5" in str(refused.value)
    assert not Pipeline.objects.exists()


def test_it_requires_a_template(db):
    with pytest.raises(CommandError, match="--template"):
        run_init()


def test_every_argument_has_help_text(db):
    from dealgate.pipelines.management.commands.init import Command

    parser = Command().create_parser("dealgate", "init")
    ours = [a for a in parser._actions if a.dest in ("template", "key", "name")]
    assert len(ours) == 3 and all(a.help for a in ours)
    assert "b2b-7" in parser.format_help()


def test_it_advertises_check_and_says_what_a_post_sale_stage_is(db):
    output = run_init("--template", "b2b-7")
    onboarding = next(line for line in output.splitlines() if " onboarding " in line)
    assert onboarding.split()[3] == "post"
    assert "Kind post: a post-sale checklist of won deals, not a stage a deal moves to." in output
    assert "`dealgate check` validates every pipeline's stage order and criteria" in output
    checked = io.StringIO()
    call_command("check", stdout=checked)  # what init advertises holds for what init made
    assert "no issues" in checked.getvalue()
