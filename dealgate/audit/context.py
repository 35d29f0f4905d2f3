"""Which surface a change comes from, set once per entry point and read by `record()`.

A context variable, so service signatures need not all carry a `surface` argument: the web
middleware sets web/api/admin per request, management commands set cli, the import service sets
import, automation sets automation. Outside any of them the surface is `system`.

`actor` is who answers for changes a service makes with `by=None` inside the block (an import
started by a manager writes through services as the system; the log still names the manager).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from django.db import models


class Surface(models.TextChoices):
    """Where a change came from."""

    WEB = "web", "Web"
    API = "api", "API"
    CLI = "cli", "Command line"
    IMPORT = "import", "Import"
    AUTOMATION = "automation", "Automation"
    ADMIN = "admin", "Django admin"
    SYSTEM = "system", "System"


_surface: ContextVar[str] = ContextVar("dealgate_audit_surface", default=Surface.SYSTEM)
_actor: ContextVar[Any] = ContextVar("dealgate_audit_actor", default=None)


def current_surface() -> str:
    return _surface.get()


def current_actor() -> Any:
    return _actor.get()


@contextmanager
def acting_from(surface: str, *, actor: Any = None) -> Iterator[None]:
    """Changes made inside the block are recorded as coming from `surface` (and `actor`, if given)."""
    surface_token = _surface.set(Surface(surface))
    actor_token = _actor.set(actor if actor is not None else _actor.get())
    try:
        yield
    finally:
        _actor.reset(actor_token)
        _surface.reset(surface_token)
