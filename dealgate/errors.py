"""Errors a person can act on.

Every refusal from a service is one of these. Each carries a stable `code`, a sentence for
people (`message`) and structured `details`, which the UI, the API (JSON) and the CLI render
in their own way. Services raise them before writing anything, so a refusal never leaves a
partial write behind.
"""

from __future__ import annotations

from typing import Any


class DealgateError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, *, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(DealgateError):
    """Bad input. `details` maps a field name to a list of messages."""

    code = "validation_failed"
    http_status = 422

    @classmethod
    def for_field(cls, field: str, message: str) -> "ValidationFailed":
        return cls(f"{field}: {message}", details={field: [message]})


class NotFound(DealgateError):
    code = "not_found"
    http_status = 404


class NotAllowed(DealgateError):
    code = "not_allowed"
    http_status = 403


class Conflict(DealgateError):
    """Someone else changed the same thing first; reload and try again."""

    code = "conflict"
    http_status = 409


class MoveBlocked(DealgateError):
    """A stage move whose criteria do not hold. `details['unmet']` lists every unmet criterion.

    `deal_id` is None when the deal was being created in a later stage and so does not exist."""

    code = "move_blocked"
    http_status = 409

    def __init__(self, message: str, *, unmet: list[dict[str, Any]], deal_id: int | None, to_stage: str):
        super().__init__(message, details={"deal": deal_id, "to_stage": to_stage, "unmet": unmet})
        self.unmet = unmet


class BadParameter(DealgateError):
    """A query-string parameter that is not what the page reads (not an id, not a date, a NUL...)."""

    code = "bad_parameter"
    http_status = 400

    @classmethod
    def for_param(cls, name: str, message: str) -> "BadParameter":
        return cls(f"{name}: {message}", details={name: [message]})
