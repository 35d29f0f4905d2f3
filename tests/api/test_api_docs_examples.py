"""The curl examples in docs/api.md, run for real against a live server, in the order a reader would.

Each ```sh block is followed in the text by "Answer: HTTP <status>"; that status is asserted.
"...call its `<field>` `$<VAR>`" after an answer exports that field of the JSON answer to the
later examples, as a reader would copy it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dealgate.pipelines.services import create_pipeline_from_template, ensure_lost_reasons

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"```sh\n(?P<command>.*?)```(?P<after>.*?)(?=```sh\n|\Z)", re.S)
STATUS_MARK = "\n%{http_code}"


def documented_examples() -> list[tuple[str, int, dict[str, str]]]:
    examples = []
    for match in BLOCK.finditer(DOC.read_text()):
        answer = re.search(r"Answer: HTTP (\d{3})([^\n]*)", match["after"])
        assert answer, f"no 'Answer: HTTP <status>' after the example:\n{match['command']}"
        exports = dict(re.findall(r"call its `(\w+)` `\$(\w+)`", answer[2]))
        examples.append((match["command"].strip(), int(answer[1]), exports))
    return examples


def test_the_doc_has_the_examples_the_api_guide_promises():
    commands = "\n".join(command for command, _, _ in documented_examples())
    statuses = [status for _, status, _ in documented_examples()]
    assert "/api/tokens" in commands and "/api/deals/$DEAL_ID/move" in commands
    assert {200, 201, 401, 409} <= set(statuses)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
@pytest.mark.django_db(transaction=True)
def test_every_curl_example_in_the_api_guide_answers_as_documented(live_server, world):
    create_pipeline_from_template("b2b-7")
    ensure_lost_reasons()
    env = {**os.environ, "DEALGATE_URL": live_server.url, "DEALGATE_USER": "alice",
           "DEALGATE_PASSWORD": world.password, "TOKEN": ""}
    for command, status, exports in documented_examples():
        assert command.startswith("curl "), command
        measured = command.replace("curl ", f"curl -w '{STATUS_MARK}' ", 1)
        done = subprocess.run(["bash", "-c", measured], env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        body, _, got = done.stdout.rpartition("\n")
        assert int(got) == status, f"{command}\nanswered {got}: {body}"
        answer = json.loads(body)
        if status >= 400:
            assert set(answer) == {"code", "message", "details"}
        for field, variable in exports.items():
            env[variable] = str(answer[field])
