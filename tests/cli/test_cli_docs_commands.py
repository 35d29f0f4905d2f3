"""Every `dealgate ...` command in README.md and docs/*.md runs as written, on a new data directory.

The commands run in the order the pages give them (README first: `init` and `demo` there make the
data the later commands use), through the console entry point (`dealgate.cli.main`, what the
`dealgate` script calls) in one child process, so a command that prints a traceback, or exits
otherwise than its page says, fails here. A new command in the docs is covered by adding it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Commands that cannot run here, each with its reason. Keep this list short.
SKIPPED = {
    "dealgate serve": "starts a web server that runs until stopped",
    "dealgate worker": "runs background jobs until stopped",
    "dealgate import deals export.csv --mapping my-mapping.json": "placeholder: the reader's own mapping file",
    "dealgate import accounts companies.csv": "placeholder: the reader's own CSV file",
    "dealgate import contacts people.csv": "placeholder: the reader's own CSV and mapping files",
    "dealgate import activities calls.csv": "placeholder: the reader's own CSV file",
    "dealgate rules test RULE [--json]": "placeholder: RULE is a number or name from `dealgate rules list`",
}
# Files the pages name as examples of what a reader brings, made here in the format the command expects.
HUBSPOT_EXPORT = (
    "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal owner,Associated Company,Pipeline\n"
    "HS-1,Acme renewal,Appointment Scheduled,12000,2026-12-15,2026-09-01 09:30,alice,Acme Corp,Sales Pipeline\n"
    "HS-2,Globex platform,Contract Sent,48500.50,2026-11-30,2026-08-12 14:05,maria,Globex,Sales Pipeline\n"
)
ORDERS_EXPORT = (
    "account,order_id,ordered_at,product,product_line,quantity,revenue,margin\n"
    "Harbour Supplies,SO-1001,2026-10-01,BOLT-M8,Fasteners,200,480.00,120.00\n"
    "Harbour Supplies,SO-1001,2026-10-01,GLUE-2K,Adhesives,12,216.00,80.00\n"
)
QUOTES_EXPORT = "account,number,amount,issued,expires,status\nHarbour Supplies,Q-77,2500,2026-10-01,2026-10-31,open\n"
# HubSpot's property history of the deals above: HS-2's stage at its creation (already known), an amount.
HUBSPOT_STAGE_HISTORY = (
    "Record ID,Property,Value,Timestamp\n"
    "HS-2,dealstage,contractsent,2026-08-12 14:05\n"
    "HS-2,amount,48500.50,2026-08-12 14:05\n"
)
EXAMPLE_FILES = {"export.csv": HUBSPOT_EXPORT, "hubspot-deals.csv": HUBSPOT_EXPORT, "orders.csv": ORDERS_EXPORT,
                 "quotes.csv": QUOTES_EXPORT, "deal-stage-history.csv": HUBSPOT_STAGE_HISTORY}
REFUSAL_WORDS = re.compile(r"exit code 1|refus", re.IGNORECASE)

DRIVER = r"""
import contextlib, io, json, sys
from dealgate.cli import main

results = []
for argv, out_file in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # would have been a traceback on the console
            import traceback
            err.write("Traceback (escaped main): " + "".join(traceback.format_exception(exc)))
            code = 99
    if out_file:
        with open(out_file, "w") as handle:
            handle.write(out.getvalue())
    results.append({"code": code, "stdout": out.getvalue()[-4000:], "stderr": err.getvalue()[-4000:]})
print("RESULTS" + json.dumps(results))
"""


def documented_commands() -> list[tuple[str, str, str]]:
    """(page, command line, trailing comment) for each line of a code block that starts with `dealgate `."""
    found = []
    for page in PAGES:
        in_fence = False
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("```"):
                in_fence = not in_fence
                continue
            indented = line.startswith("    ")
            text = line.strip()
            if (in_fence or indented) and text.startswith("dealgate "):
                command, _, comment = text.partition("  #")
                found.append((page.name, command.strip(), comment.strip()))
    return found


def expand(command: str) -> list[str] | None:
    """The argv a reader would type: optional [parts] kept unless they hold a placeholder, the first of
    a|b alternatives; None when the command itself needs a placeholder filled in (FILE, ID, ...)."""

    def optional(match: re.Match) -> str:
        inner = match.group(1)
        if "..." in inner or re.search(r"\b[A-Z]{1,5}\b", inner):
            return ""
        return inner

    text = re.sub(r"\[([^\]]*)\]", optional, command)
    words = []
    for word in shlex.split(text):
        if "|" in word and not word.startswith(("'", '"')):
            word = word.split("|")[0]
        if re.fullmatch(r"[A-Z]{1,5}", word):
            return None
        words.append(word)
    return words


def skip_reason(command: str) -> str:
    return next((reason for prefix, reason in SKIPPED.items() if command.startswith(prefix)), "")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run every documented command once, in page order, against one new data directory."""
    work = tmp_path_factory.mktemp("docs-commands")
    for name, text in EXAMPLE_FILES.items():
        (work / name).write_text(text)
    planned = []
    for page, command, comment in documented_commands():
        if skip_reason(command):
            continue
        argv = expand(command)
        assert argv is not None, f"{page}: {command!r} has a placeholder; fill it in or add it to SKIPPED with a reason"
        out_file = ""
        if ">" in argv:
            at = argv.index(">")
            argv, out_file = argv[:at], str(work / argv[at + 1])
        planned.append((page, command, comment, argv[1:], out_file))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # SQLite in the new data folder
    env.update(DEALGATE_DATA_DIR=str(work / "data"), PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="dealgate.settings")
    child = subprocess.run([sys.executable, "-c", DRIVER], input=json.dumps([p[3:] for p in planned]), env=env,
                           cwd=work, capture_output=True, text=True, timeout=600)
    assert "RESULTS" in child.stdout, child.stderr[-3000:]
    outcome = json.loads(child.stdout.split("RESULTS", 1)[1])
    return [(page, command, comment, result) for (page, command, comment, _, _), result in zip(planned, outcome)]


def test_it_finds_the_readme_and_docs_commands():
    commands = [c for _, c, _ in documented_commands()]
    assert any(c.startswith("dealgate move") and "--override" in c for c in commands)
    assert any(c.startswith("dealgate import") for c in commands)
    assert any(c.startswith("dealgate report") for c in commands)


def test_every_skipped_command_is_still_documented():
    commands = [c for _, c, _ in documented_commands()]
    for prefix in set(SKIPPED) - {"dealgate serve", "dealgate worker"}:  # long-running: may or may not be shown
        assert any(c.startswith(prefix) for c in commands), f"{prefix!r} is skipped but no page shows it any more"


def test_every_documented_command_runs_without_a_traceback_and_exits_as_documented(results):
    problems = []
    for page, command, comment, result in results:
        allowed = {0, 1} if REFUSAL_WORDS.search(comment) else {0}
        said = result["stdout"] + result["stderr"]
        if result["code"] not in allowed or "Traceback" in said:
            problems.append(f"{page}: {command}\n  exit {result['code']} (expected {sorted(allowed)})\n  {said[-600:]}")
    assert not problems, "\n".join(problems)


def test_the_documented_refusal_refuses_and_the_documented_override_succeeds(results):
    moves = [(c, r) for _, c, _, r in results if c.startswith("dealgate move")]
    (refused, refusal), (forced, override) = moves[0], moves[1]
    assert refusal["code"] == 1 and "not met" in refusal["stderr"], refusal
    assert "--override" in forced and override["code"] == 0 and "(override)" in override["stdout"], override
