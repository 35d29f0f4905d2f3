"""The console never shows a traceback: a new data directory is set up, errors are one line and a log,
refusals are said once, counts agree with their nouns, and --help shows Dealgate's options only."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

from dealgate.deals import services

ROOT = Path(__file__).resolve().parents[2]
DJANGO_OPTIONS = ("--pythonpath", "--traceback", "--settings", "--skip-checks", "--no-color", "--force-color")


def dealgate_commands() -> list[tuple[str, str]]:
    """(name, app) of every management command that Dealgate itself ships."""
    return sorted((name, app) for name, app in get_commands().items() if app.startswith("dealgate."))


def console(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # SQLite in the given data folder
    env.update(DEALGATE_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "dealgate.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.parametrize("first, then", [
    (["init", "--template", "b2b-7"], ["deals", "list"]),
    (["deal", "show", "1"], None),
])
def test_it_sets_up_a_new_data_directory_instead_of_printing_a_traceback(tmp_path, first, then):
    result = console(tmp_path / "new", *first)
    assert "Traceback" not in result.stdout + result.stderr
    assert "Setting up the database" in result.stderr and result.stderr.count("Setting up") == 1
    if first[0] == "deal":
        assert result.returncode == 1 and result.stderr.strip().endswith("No deal 1.")
    else:
        assert result.returncode == 0 and "Created pipeline 'b2b-7'" in result.stdout, result.stderr
    if then:
        again = console(tmp_path / "new", *then)
        assert again.returncode == 0 and "Setting up" not in again.stderr  # once set up, said no more
        assert "No deals yet: `dealgate demo`" in again.stdout


# More data commands, each on a data directory of its own (every command shares the base command that
# does this, checked above; these four run it for real: a read, an export, a write and an import).
NEW_DIRECTORY_COMMANDS = {
    "report": (["report", "metrics", "--period", "2026-Q3"], 0),
    "export": (["export", "deals"], 0),
    "move": (["move", "1", "won"], 1),
    "import": (["import", "deals", str(ROOT / "tests" / "imports" / "data" / "generic_deals.csv"), "--mapping",
                "generic", "--dry-run"], 1),
}


def test_every_data_command_sets_up_its_own_new_data_directory(tmp_path):
    problems = []
    for name, (args, expected) in NEW_DIRECTORY_COMMANDS.items():
        result = console(tmp_path / name, *args)
        said = result.stdout + result.stderr
        if result.returncode != expected or "Traceback" in said or "Setting up the database" not in said:
            problems.append(f"{name}: exit {result.returncode}, expected {expected}\n{said[-500:]}")
    assert not problems, "\n".join(problems)


def test_an_unexpected_error_is_one_line_that_names_the_log_holding_the_traceback(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dealgate.sqlite3").write_bytes(b"this is not a database" * 100)
    result = console(data, "deals", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    log = data / "logs" / "dealgate-cli.log"
    assert str(log) in line and "not a database" in line
    assert "Traceback (most recent call last)" in log.read_text()


def test_every_dealgate_command_uses_the_shared_base_command():
    from dealgate.cli_support import DealgateCommand

    assert len(dealgate_commands()) >= 12
    for name, app in dealgate_commands():
        assert issubclass(type(load_command_class(app, name)), DealgateCommand), name


@pytest.mark.parametrize("name", ["deals", "deal", "move", "report", "forecast", "backtest", "import", "export",
                                  "init", "demo", "spans", "serve"])
def test_help_shows_dealgate_options_not_djangos(name):
    app = get_commands()[name]
    text = load_command_class(app, name).create_parser("dealgate", name).format_help()
    assert not [option for option in DJANGO_OPTIONS if option in text], text


def test_deals_list_says_how_many_it_left_out(make_deal):
    for n in range(3):
        make_deal(title=f"Deal {n}")
    assert "2 of 3 deals shown (rows 1-2); use --limit N, --offset N or --all" in run("deals", "list", "--limit", "2")
    assert run("deals", "list", "--all").splitlines()[-1] == "3 deals shown."
    assert run("deals", "list", "--limit", "1", "--offset", "2").splitlines()[-1] == "1 of 3 deals shown (rows 3-3); " \
        "use --limit N, --offset N or --all for the others."


def test_deals_list_refuses_an_owner_pipeline_or_stage_that_does_not_exist(make_deal):
    make_deal()
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("deals", "list", "--owner", "nobody")
    with pytest.raises(CommandError, match=r"No pipeline 'nope' \(pipelines: test\)"):
        run("deals", "list", "--pipeline", "nope")
    with pytest.raises(CommandError, match=r"No stage 'nope' \(stages: qualify, propose, negotiate, won, lost\)"):
        run("deals", "list", "--stage", "nope")


def test_a_single_unmet_criterion_is_a_criterion(make_deal, world):
    deal = make_deal(amount="5000")
    services.link_contact(deal, services.create_contact(by=world.alice, name="Dana Boss"), "decision_maker",
                          by=world.alice)
    with pytest.raises(CommandError) as refused:
        run("move", str(deal.pk), "propose", "--user", "alice")
    assert "1 criterion not met" in str(refused.value)


def test_export_counts_its_rows_in_words(make_deal, tmp_path):
    make_deal(title="Only one")
    err = StringIO()
    call_command("export", "deals", "--out", str(tmp_path / "deals.csv"), stderr=err)
    assert err.getvalue().strip() == f"1 row of deals written to {tmp_path / 'deals.csv'}."


def test_a_refusal_is_said_once(db):
    with pytest.raises(CommandError) as refused:
        run("init", "--template", "nope")
    assert str(refused.value).count("distributor-5") == 1, str(refused.value)


def test_a_refused_import_prints_its_report_once(world, pipeline, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("title,amount,account,owner\nScanner,abc,Acme,alice\n")
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import", "deals", str(bad), "--mapping", "generic", "--pipeline", "test", stdout=out)
    said = (out.getvalue() + str(refused.value)).lower()
    assert refused.value.returncode == 1
    assert said.count("nothing was imported") == 1
    assert "1 of 1 row is bad" in said


def test_reports_name_an_unknown_owner_pipeline_or_team(world, pipeline):
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("report", "metrics", "--owner", "nobody")
    with pytest.raises(CommandError, match=r"No pipeline 'nope' \(pipelines: test\)"):
        run("forecast", "--pipeline", "nope")
    with pytest.raises(CommandError, match=r"No team 'North' \(teams: East, West\)"):
        run("report", "funnel", "--team", "North")
