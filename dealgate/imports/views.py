"""The import page: upload a file, map its columns, preview, dry run, import; and CSV downloads.

Managers and admins only: an import writes many deals at once and an export reads many. A
manager's download holds the deals (and their activities and history) of the manager's team, as
every other page does; an admin's holds every deal. The work itself is `services.import_file` and
`exports.csv_lines`, the same calls the CLI makes.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dealgate.errors import DealgateError
from dealgate.imports.exports import EXPORTS, SPECS, csv_lines
from dealgate.imports.mappings import FIELDS, KINDS, ready_mapping_data, ready_mappings_for
from dealgate.imports.parsers import open_table
from dealgate.imports.services import import_file
from dealgate.people.access import role_of, visible_deals
from dealgate.people.models import Role
from dealgate.pipelines.models import Pipeline
from dealgate.signals.importing import IMPORTERS as ERP_IMPORTERS

PREVIEW_ROWS = 5
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SESSION_KEY = "dealgate_imports"
UPLOAD_ERRORS = {
    "missing": "Choose what each row is and a CSV file.",
    "too-large": f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; import it with `dealgate import`.",
}
ERP_KINDS = {"orders": "Order lines", "quotes": "Quotes"}


def _require_importer(request: HttpRequest) -> None:
    if role_of(request.user) not in (Role.MANAGER, Role.ADMIN):
        raise PermissionDenied("Only managers and admins may import or export data.")


def _upload_dir() -> Path:
    path = Path(settings.DATA_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _upload(request: HttpRequest, token: str) -> dict[str, Any]:
    """The upload this session made under `token` (never another session's)."""
    upload = request.session.get(SESSION_KEY, {}).get(token)
    if upload is None or not (_upload_dir() / f"{token}.csv").is_file():
        raise Http404("No such upload; upload the file again.")
    return upload


def _forget_old_uploads(max_age_seconds: int = 24 * 3600) -> None:
    """Uploads are kept for a day so a dry run can be followed by the import; then removed."""
    cutoff = time.time() - max_age_seconds
    for path in _upload_dir().glob("*.csv"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def _upload_problem(kind: str, kinds: Any, file: Any) -> str:
    """The UPLOAD_ERRORS key for what is wrong with an upload form, or ""."""
    if kind not in kinds or file is None:
        return "missing"
    return "too-large" if file.size > MAX_UPLOAD_BYTES else ""


def _save(file: Any, path: Path) -> None:
    with open(path, "wb") as handle:
        for chunk in file.chunks():
            handle.write(chunk)


@login_required
def home(request: HttpRequest, **erp: Any) -> HttpResponse:
    _require_importer(request)
    return render(request, "imports/home.html", {
        "kinds": KINDS, "ready": {kind: ready_mappings_for(kind) for kind in KINDS}, "exports": EXPORTS,
        "pipelines": Pipeline.objects.order_by("name"), "error": UPLOAD_ERRORS.get(request.GET.get("error", ""), ""),
        "erp_kinds": ERP_KINDS, "erp_kind": "orders", **erp,
    }, status=422 if erp.get("erp_error") or (erp.get("erp_report") and erp["erp_report"].blocked) else 200)


@login_required
@require_POST
def erp_import(request: HttpRequest) -> HttpResponse:
    """Order lines or quotes from an ERP export, checked and written in one go (`dealgate import orders|quotes`)."""
    _require_importer(request)
    kind = request.POST.get("kind", "")
    file = request.FILES.get("file")
    options = {"erp_kind": kind if kind in ERP_KINDS else "orders", "erp_dry_run": request.POST.get("action") != "import",
               "erp_create_accounts": bool(request.POST.get("create_accounts"))}
    problem = _upload_problem(kind, ERP_KINDS, file)
    if problem:
        return home(request, erp_error=UPLOAD_ERRORS[problem], **options)
    path = _upload_dir() / f"erp-{secrets.token_urlsafe(16)}.csv"  # read twice (check, then write): a real file
    try:
        _save(file, path)
        with open(path, "rb") as handle:
            report = ERP_IMPORTERS[kind](handle, by=request.user, dry_run=options["erp_dry_run"],
                                         create_accounts=options["erp_create_accounts"])
    except DealgateError as exc:
        return home(request, erp_error=exc.message, erp_file=file.name, **options)
    finally:
        path.unlink(missing_ok=True)
    return home(request, erp_report=report, erp_errors=report.errors[:200], erp_file=file.name, **options)


@login_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    kind = request.POST.get("kind", "")
    file = request.FILES.get("file")
    problem = _upload_problem(kind, KINDS, file)
    if problem:
        return redirect(reverse("imports:home") + f"?error={problem}")
    mapping: dict[str, Any] = {}
    ready = request.POST.get("ready", "")
    if ready:
        try:
            mapping = ready_mapping_data(ready, kind)
        except DealgateError:
            mapping = {}
    _forget_old_uploads()
    token = secrets.token_urlsafe(16)
    _save(file, _upload_dir() / f"{token}.csv")
    if request.POST.get("pipeline"):
        mapping["pipeline"] = request.POST["pipeline"]
    uploads = request.session.get(SESSION_KEY, {})
    uploads[token] = {"kind": kind, "name": file.name, "mapping": mapping}
    request.session[SESSION_KEY] = uploads
    return redirect("imports:map", token=token)


@login_required
def map_columns(request: HttpRequest, token: str) -> HttpResponse:
    """Map each column to a field, see the first rows, then dry-run or import."""
    _require_importer(request)
    upload = _upload(request, token)
    kind = upload["kind"]
    path = _upload_dir() / f"{token}.csv"
    mapping = dict(upload["mapping"])
    report, error = None, ""
    if request.method == "POST":
        mapping, error = _mapping_from_form(request, kind)
        upload["mapping"] = mapping
        request.session.modified = True
        if not error:
            try:
                with open(path, "rb") as handle:
                    report = import_file(
                        kind, handle, mapping, by=request.user, dry_run=request.POST.get("action") != "import",
                        skip_bad_rows=bool(request.POST.get("skip_bad_rows")),
                        create_users=bool(request.POST.get("create_users")),
                        run_rules=kind == "deals" and bool(request.POST.get("run_rules")),
                    )
            except DealgateError as exc:
                error = exc.message
    header, preview, read_error = _preview(path, mapping)
    columns = _column_targets(mapping)
    advanced = {k: v for k, v in mapping.items() if k not in ("columns", "external_id", "kind", "extends")}
    return render(request, "imports/map.html", {
        "token": token, "kind": kind, "file_name": upload["name"], "fields": FIELDS[kind],
        "header": [(column, columns.get(column, ""), [cells[i] if i < len(cells) else "" for _, cells in preview])
                   for i, column in enumerate(header)],
        "preview": preview, "advanced": json.dumps(advanced, indent=2), "report": report,
        "error": error or read_error, "errors": report.errors[:200] if report else [],
        "skip_bad_rows": request.POST.get("skip_bad_rows"), "create_users": request.POST.get("create_users"),
        "run_rules": request.POST.get("run_rules"),
        "may_create_users": role_of(request.user) == Role.ADMIN,  # as in the app: only admins add users
    })


def _column_targets(mapping: dict[str, Any]) -> dict[str, str]:
    columns = dict(mapping.get("columns") or {})
    if mapping.get("external_id"):
        columns[mapping["external_id"]] = "external_id"
    return columns


def _mapping_from_form(request: HttpRequest, kind: str) -> tuple[dict[str, Any], str]:
    """Column choices from the selects, everything else from the JSON box."""
    try:
        advanced = json.loads(request.POST.get("advanced") or "{}")
        if not isinstance(advanced, dict):
            raise ValueError("must be a JSON object")
    except ValueError as exc:
        return {}, f"The settings box is not valid JSON: {exc}"
    columns = {}
    for key, target in request.POST.items():
        if key.startswith("column:") and target:
            columns[key[len("column:"):]] = target
    return {**advanced, "kind": kind, "columns": columns}, ""


def _preview(path: Path, mapping: dict[str, Any]) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    try:
        with open(path, "rb") as handle:
            table = open_table(handle, delimiter=mapping.get("delimiter"), encoding=mapping.get("encoding", "utf-8-sig"))
            rows = []
            for number, cells in table.rows:
                rows.append((number, cells))
                if len(rows) == PREVIEW_ROWS:
                    break
            return table.header, rows, ""
    except DealgateError as exc:
        return [], [], exc.message


def _visible_rows(kind: str, user: Any) -> QuerySet:
    """What this user may export: deals, their activities and their history within the user's deal scope
    (a manager: the team's), as on every other page; accounts and contacts are the shared directory."""
    rows = SPECS[kind][1]()
    if role_of(user) == Role.ADMIN or kind in ("accounts", "contacts"):
        return rows
    deal_ids = visible_deals(user).values("pk")
    if kind == "deals":
        return rows.filter(pk__in=deal_ids)
    if kind == "activities":
        return rows.filter(Q(deal_id__in=deal_ids) | Q(deal__isnull=True))
    return rows.filter(deal_id__in=deal_ids)


@login_required
def export(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    _require_importer(request)
    if kind not in EXPORTS:
        raise Http404(f"No export {kind!r}.")
    response = StreamingHttpResponse(csv_lines(kind, _visible_rows(kind, request.user)),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="dealgate-{kind}-{stamp}.csv"'
    return response
