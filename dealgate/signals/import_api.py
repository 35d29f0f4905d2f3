"""`POST /api/imports/orders` and `/api/imports/quotes`: an ERP export uploaded as a file, imported all or nothing.

The same call as `dealgate import orders|quotes` and the import page (`dealgate.signals.importing`);
managers and admins only. A file with bad rows imports nothing and answers 422 with every bad row
named in `details.errors`.
"""

from __future__ import annotations

import tempfile
from typing import Any

from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile

from dealgate.api.routers import WRITE_ERRORS
from dealgate.api.schemas import InputSchema
from dealgate.errors import ValidationFailed
from dealgate.signals.importing import IMPORTERS, check_importer

router = Router(tags=["imports"])


class ErpImportIn(InputSchema):
    dry_run: bool = False
    create_accounts: bool = False


class RowErrorOut(Schema):
    row: int
    column: str
    value: str
    message: str


class ErpImportOut(Schema):
    kind: str
    dry_run: bool
    written: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    accounts_created: int
    errors: list[RowErrorOut]
    warnings: list[str]
    summary: str
    seconds: float


def run_import(kind: str, request: Any, file: UploadedFile | None, options: ErpImportIn) -> Any:
    check_importer(request.auth)  # before any question about the input: a rep is told no, whatever they send
    # A form is not a JSON body, so the schema's "extra fields forbidden" does not see it: refused here.
    taken = {"file", *ErpImportIn.model_fields}
    for name in [*request.POST, *request.FILES]:
        if name not in taken:
            raise ValidationFailed.for_field(name, f"is not a field of this request; it takes {', '.join(sorted(taken))}")
    if file is None:
        raise ValidationFailed.for_field("file", "is missing: upload the CSV file as the form field 'file'")
    # Spooled to a real file: the importer reads it twice (check every row, then write).
    with tempfile.TemporaryFile() as handle:
        for chunk in file.chunks():
            handle.write(chunk)
        report = IMPORTERS[kind](handle, by=request.auth, dry_run=options.dry_run,
                                 create_accounts=options.create_accounts)
    body = {**report.as_dict(), "summary": report.summary()}
    if report.blocked:
        return 422, {"code": "import_rows_invalid", "message": report.summary(), "details": body}
    return 200, body


@router.post("/orders", response={200: ErpImportOut, **WRITE_ERRORS},
             summary="Import order lines from a CSV upload (generic layout), all or nothing")
def import_orders(request, options: Form[ErpImportIn], file: File[UploadedFile | None] = None):
    return run_import("orders", request, file, options)


@router.post("/quotes", response={200: ErpImportOut, **WRITE_ERRORS},
             summary="Import quotes from a CSV upload (generic layout), all or nothing")
def import_quotes(request, options: Form[ErpImportIn], file: File[UploadedFile | None] = None):
    return run_import("quotes", request, file, options)
