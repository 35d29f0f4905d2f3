"""Helpers for import tests: the sample files under data/ and a b2b-7 pipeline for ready mappings."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealgate.pipelines.services import create_pipeline_from_template

DATA = Path(__file__).parent / "data"

# A small deals file's columns and its mapping onto the test pipeline (tests/conftest.py).
DEALS_HEADER = "id,name,company,owner,stage,amount,created,closed,lost_reason\n"
DEALS_MAPPING = {
    "external_id": "id",
    "columns": {"name": "title", "company": "account", "owner": "owner", "stage": "stage", "amount": "amount",
                "created": "created_at", "closed": "closed_at", "lost_reason": "lost_reason"},
    "pipeline": "test",
    "stages": {"Qualified": "qualify", "Proposal sent": "propose", "Signed": "won", "Dead": "lost"},
    "date_formats": ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y %H:%M"],
}


@pytest.fixture
def b2b7(db):
    return create_pipeline_from_template("b2b-7")


@pytest.fixture
def csv_file(tmp_path):
    """csv_file("a,b\\n1,2\\n") -> path of a file holding that text."""
    counter = {"n": 0}

    def write(text: str, name: str | None = None) -> str:
        counter["n"] += 1
        path = tmp_path / (name or f"file{counter['n']}.csv")
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


