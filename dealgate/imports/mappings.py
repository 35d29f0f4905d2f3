"""Mapping files: how the columns and values of another system's export become Dealgate fields.

A mapping is JSON (format in docs/importing.md). Ready mappings ship in `mappings/*.json` and are
used by name (`--mapping hubspot`); a file may `"extends"` one and override parts of it. The
mapping itself is validated before any row is read, with one message per mistake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from dealgate.errors import ValidationFailed
from dealgate.imports.limits import currency_problem

READY_DIR = Path(__file__).resolve().parent / "mappings"
KINDS = ("deals", "accounts", "contacts", "activities", "stage-history")

# The fields each kind of row can fill, with a word on what the cell holds.
FIELDS: dict[str, dict[str, str]] = {
    "deals": {
        "id": "this installation's id of the deal (Dealgate's own exports); matched first",
        "external_id": "the deal's id in the other system (re-imports update by it)",
        "title": "deal name (required)",
        "account": "account (company) name; created when missing",
        "account_external_id": "the account's id in the other system",
        "owner": "owner's username, e-mail or full name (see \"owners\")",
        "pipeline": "pipeline key or name (else the mapping's \"pipeline\")",
        "stage": "stage name in the other system (see \"stages\")",
        "status": "open / won / lost (see \"statuses\")",
        "amount": "deal value",
        "currency": "three-letter currency code",
        "close_date": "expected close date; for a closed deal also the day it closed",
        "expected_close_date": "expected close date",
        "created_at": "when the deal was created",
        "closed_at": "when the deal was won or lost",
        "stage_entered_at": "when an open deal entered its current stage",
        "lost_reason": "why it was lost (see \"lost_reasons\")",
        "lost_note": "free text about the loss",
        "source": "inbound, outbound, signal, referral, existing_account (see \"sources\")",
        "forecast_category": "pipeline, best_case, commit, omitted",
        "probability_override": "win probability 0-100 set on the deal",
        "next_step": "next action (needs next_step_due)",
        "next_step_due": "due date of the next action",
    },
    "accounts": {
        "id": "this installation's id of the account (Dealgate's own exports); matched first",
        "external_id": "the account's id in the other system",
        "name": "account name (required)",
        "segment": "segment",
        "owner": "owner's username, e-mail or full name",
    },
    "contacts": {
        "id": "this installation's id of the contact (Dealgate's own exports); matched first",
        "external_id": "the contact's id in the other system",
        "name": "full name (or first_name + last_name)",
        "first_name": "first name",
        "last_name": "last name",
        "email": "e-mail (re-imports match by it when there is no external id)",
        "phone": "phone",
        "title": "job title",
        "account": "account name; created when missing",
        "account_external_id": "the account's id in the other system",
    },
    "activities": {
        "kind": "call, email, meeting, note, task (see \"kinds\")",
        "subject": "subject (required)",
        "occurred_at": "when it happened (required)",
        "outcome": "e.g. held, replied, connected",
        "notes": "free text",
        "deal_id": "this installation's id of the deal (Dealgate's own exports); matched first",
        "deal_external_id": "the deal's id in the other system",
        "account": "account name (when not on a deal)",
        "account_external_id": "the account's id in the other system",
        "by": "who did it: username, e-mail or full name",
    },
    "stage-history": {
        "deal_external_id": "the deal's id in the other system (import the deals first)",
        "deal_id": "this installation's id of the deal (Dealgate's own exports); matched first",
        "stage": "the stage the deal entered, as the other system names it (see \"stages\")",
        "entered_at": "when the deal entered that stage",
    },
}
REQUIRED = {"deals": ["title"], "accounts": ["name"], "contacts": [], "activities": ["kind", "subject", "occurred_at"],
            "stage-history": ["stage", "entered_at"]}
WHERE = "where:"  # the columns of "rows_where" ride along as fields named where:<column>
VALUE_MAPS = ("stages", "statuses", "owners", "lost_reasons", "sources", "kinds")
KNOWN_KEYS = {
    "name", "description", "kind", "extends", "columns", "external_id", "pipeline", "default_owner",
    "default_account", "default_lost_reason", "date_formats", "timezone", "currency", "decimal_separator",
    "delimiter", "encoding", "rows_where", *VALUE_MAPS,
}
DEFAULT_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]


class MappingInvalid(ValidationFailed):
    """The mapping file itself is wrong; `details` maps a mapping key to its messages."""

    code = "mapping_invalid"


@dataclass
class Mapping:
    kind: str
    name: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # source column -> field
    pipeline: str = ""
    stages: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    lost_reasons: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    default_owner: str = ""
    default_account: str = ""
    default_lost_reason: str = ""
    date_formats: list[str] = field(default_factory=lambda: list(DEFAULT_DATE_FORMATS))
    timezone: str = ""
    currency: str = ""
    decimal_separator: str = "."
    delimiter: str | None = None
    encoding: str = "utf-8-sig"
    rows_where: dict[str, str] = field(default_factory=dict)  # stage history: only rows with these cells

    def columns_for(self, name: str) -> list[str]:
        """Source columns feeding a field, in mapping order (the first non-empty cell wins)."""
        return [column for column, target in self.columns.items() if target == name]


def ready_mapping_names() -> list[str]:
    return sorted(p.stem for p in READY_DIR.glob("*.json"))


def _ready_path(name: str, kind: str) -> Path | None:
    for candidate in (f"{name}-{kind}", name):
        path = READY_DIR / f"{candidate}.json"
        if path.is_file():
            return path
    return None


def ready_mapping_data(name: str, kind: str) -> dict[str, Any]:
    """A ready mapping as plain JSON data (its "extends" resolved), e.g. to prefill a form."""
    path = _ready_path(name, kind)
    if path is None:
        raise MappingInvalid(f"No ready mapping {name!r}.", details={"mapping": [f"no ready mapping {name!r}"]})
    return _resolve_extends(_read_json(path.read_text(encoding="utf-8"), name), kind)


def ready_mappings_for(kind: str) -> list[str]:
    """Ready mapping names that fit a kind of row ("generic" stands for "generic-<kind>")."""
    names = []
    for name in ready_mapping_names():
        data = _read_json((READY_DIR / f"{name}.json").read_text(encoding="utf-8"), name)
        if data.get("kind", kind) == kind:
            names.append(name.removesuffix(f"-{kind}"))
    return names


def _read_json(text: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingInvalid(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                             details={"mapping": [f"not valid JSON: {exc.msg} (line {exc.lineno})"]}) from None
    if not isinstance(data, dict):
        raise MappingInvalid(f"{where} must be a JSON object.", details={"mapping": ["must be a JSON object"]})
    return data


def load_mapping(source: str | dict[str, Any], kind: str) -> Mapping:
    """A mapping from a ready name ('hubspot'), a path to a JSON file, or an already parsed dict."""
    if isinstance(source, dict):
        data = dict(source)
    else:
        ready = _ready_path(source, kind) if "/" not in source and not source.endswith(".json") else None
        if ready is not None:
            data = _read_json(ready.read_text(encoding="utf-8"), f"ready mapping {source!r}")
        else:
            path = Path(source)
            if not path.is_file():
                names = ", ".join(ready_mapping_names())
                raise MappingInvalid(
                    f"No mapping {source!r}: it is neither a file nor a ready mapping ({names}).",
                    details={"mapping": [f"no file or ready mapping called {source!r}; ready mappings: {names}"]})
            data = _read_json(path.read_text(encoding="utf-8"), str(path))
    return parse_mapping(_resolve_extends(data, kind), kind)


def _resolve_extends(data: dict[str, Any], kind: str, depth: int = 0) -> dict[str, Any]:
    """Merge a mapping over the ready mapping it extends; value maps merge key by key."""
    base_name = data.get("extends")
    if not base_name:
        return data
    if depth > 3 or not isinstance(base_name, str):
        raise MappingInvalid("\"extends\" must name one ready mapping.", details={"extends": ["must name a ready mapping"]})
    path = _ready_path(base_name, kind)
    if path is None:
        names = ", ".join(ready_mapping_names())
        raise MappingInvalid(f"\"extends\": no ready mapping {base_name!r}; ready mappings: {names}.",
                             details={"extends": [f"no ready mapping {base_name!r}; choose one of {names}"]})
    base = _resolve_extends(_read_json(path.read_text(encoding="utf-8"), base_name), kind, depth + 1)
    merged = {**base, **{k: v for k, v in data.items() if k != "extends"}}
    for key in ("columns", *VALUE_MAPS):
        if isinstance(base.get(key), dict) and isinstance(data.get(key), dict):
            merged[key] = {**base[key], **data[key]}
    return merged


def parse_mapping(data: dict[str, Any], kind: str) -> Mapping:
    """Check every part of a mapping and say, for each mistake, which key and what would fix it."""
    problems: dict[str, list[str]] = {}

    def problem(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    if kind not in KINDS:
        raise MappingInvalid(f"Cannot import {kind!r}; choose one of {', '.join(KINDS)}.",
                             details={"kind": [f"choose one of {', '.join(KINDS)}"]})
    if "\\u0000" in json.dumps(data, default=str):
        problem("mapping", "contains a NUL character (\\x00), which cannot be stored; remove it")
    for key in sorted(set(data) - KNOWN_KEYS):
        problem(key, f"unknown mapping key; known keys: {', '.join(sorted(KNOWN_KEYS))}")
    if data.get("kind") not in (None, kind):
        problem("kind", f"this mapping is for {data['kind']!r}, not {kind!r}")

    mapping = Mapping(kind=kind, name=str(data.get("name") or ""))
    fields = FIELDS[kind]
    columns = data.get("columns", {})
    if not isinstance(columns, dict) or not columns:
        problem("columns", "must be an object naming at least one column: {\"Column in file\": \"field\"}")
        columns = {}
    for column, target in columns.items():
        if not isinstance(target, str):
            problem(f"columns[{column!r}]", "must be a field name (a string)")
        elif target.startswith("custom.") and kind == "deals":
            if len(target) == len("custom."):
                problem(f"columns[{column!r}]", "'custom.' must be followed by a custom field key")
        elif target not in fields:
            problem(f"columns[{column!r}]", f"unknown field {target!r}; {kind} fields are: {', '.join(fields)}")
    mapping.columns = {str(c).strip(): t for c, t in columns.items() if isinstance(t, str)}
    external = data.get("external_id")
    if external is not None:
        if not isinstance(external, str) or not external.strip():
            problem("external_id", "must be the name of the column holding the other system's id")
        elif "external_id" not in fields:
            problem("external_id", f"{kind} have no external id; leave it out")
        else:
            mapping.columns[external.strip()] = "external_id"
    for required in REQUIRED[kind]:
        if not mapping.columns_for(required):
            problem("columns", f"no column is mapped to {required!r}, which {kind} need")
    if kind == "contacts" and not (mapping.columns_for("name") or mapping.columns_for("first_name")
                                   or mapping.columns_for("last_name")):
        problem("columns", "no column is mapped to 'name' (or 'first_name'/'last_name'), which contacts need")

    where = data.get("rows_where", {})
    if not isinstance(where, dict) or not all(isinstance(v, str) for v in where.values()):
        problem("rows_where", "must be an object of \"column\": \"value\" (strings)")
    elif where and kind != "stage-history":
        problem("rows_where", "only a stage-history mapping keeps some rows apart; leave it out")
    else:
        mapping.rows_where = {str(c).strip(): v.strip() for c, v in where.items()}
        mapping.columns.update({c: WHERE + c for c in mapping.rows_where})
    if kind == "stage-history" and not (mapping.columns_for("deal_external_id") or mapping.columns_for("deal_id")):
        problem("columns", "no column is mapped to 'deal_external_id' (or 'deal_id'), which stage-history rows need")

    for key in VALUE_MAPS:
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            problem(key, "must be an object of \"value in file\": \"Dealgate value\" (strings)")
            continue
        setattr(mapping, key, {str(k).strip(): v.strip() for k, v in value.items()})
    for target in mapping.statuses.values():
        if target not in ("open", "won", "lost"):
            problem("statuses", f"{target!r} is not open, won or lost")
    for target in mapping.kinds.values():
        if target not in ("call", "email", "meeting", "note", "task"):
            problem("kinds", f"{target!r} is not one of call, email, meeting, note, task")

    for key in ("pipeline", "default_owner", "default_account", "default_lost_reason", "name", "description"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            problem(key, "must be a string")
        elif value and key not in ("name", "description"):
            setattr(mapping, key, value.strip())

    formats = data.get("date_formats", DEFAULT_DATE_FORMATS)
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
        problem("date_formats", "must be a non-empty list of strptime formats, e.g. [\"%Y-%m-%d\", \"%d/%m/%Y\"]")
    else:
        for fmt in formats:
            if "%" not in fmt:
                problem("date_formats", f"{fmt!r} has no % directive; write e.g. \"%d/%m/%Y\"")
            elif not {"%Y", "%y"} & {fmt[i:i + 2] for i in range(len(fmt) - 1)}:
                problem("date_formats", f"{fmt!r} has no year (%Y or %y)")
        mapping.date_formats = list(formats)

    zone = data.get("timezone") or settings.TIME_ZONE
    try:
        ZoneInfo(str(zone))
        mapping.timezone = str(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problem("timezone", f"{zone!r} is not a time zone name such as 'Europe/Paris' or 'UTC'")
    currency = data.get("currency") or settings.DEALGATE_CURRENCY
    currency_why = currency_problem(currency.upper()) if isinstance(currency, str) else "is not a string"
    if currency_why:
        problem("currency", f"{currency!r} {currency_why}")
    else:
        mapping.currency = currency.upper()
    decimal = data.get("decimal_separator", ".")
    if decimal not in (".", ","):
        problem("decimal_separator", "must be \".\" or \",\"")
    else:
        mapping.decimal_separator = decimal
    delimiter = data.get("delimiter")
    if delimiter is not None and delimiter not in (",", ";", "\t", "|"):
        problem("delimiter", "must be one of \",\", \";\", \"\\t\", \"|\" (or left out to detect it)")
    else:
        mapping.delimiter = delimiter
    encoding = data.get("encoding", "utf-8-sig")
    try:
        "".encode(str(encoding))
        mapping.encoding = str(encoding)
    except LookupError:
        problem("encoding", f"{encoding!r} is not a text encoding (try utf-8-sig, cp1252, latin-1)")

    if problems:
        lines = [f"{key}: {message}" for key, messages in problems.items() for message in messages]
        raise MappingInvalid("The mapping has mistakes:\n  " + "\n  ".join(lines), details=problems)
    return mapping
