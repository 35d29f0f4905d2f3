"""Reuse of computed figures, without ever serving one the history has since contradicted.

Two cases, told apart by the instant a figure looks up to (its `cutoff`):

* a cutoff in the past (older than a few minutes): the figure only reads events before it, and live
  writes add events at "now", after it. It stays valid until a SpanRewrite note (left by imports,
  backfills, the demo generator: anything that writes older events) says that something before the
  cutoff changed, or a pipeline's configuration changed. Trailing comparisons, backtests and as-of
  reports hit this case.
* a cutoff at or near now: valid while no span was written since, which the highest span id tells
  (spans are rewritten, never updated, so every write raises it) and no pipeline's configuration
  changed. In one page several panels ask for the same figure; they share it.

Values live in Django's cache (per process by default), a past figure for an hour, a current one
for a minute at most. Reading the notes or the highest id is one indexed query.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
from typing import Any, Callable

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from dealgate.deals.timeline import LIVE_WINDOW, stored_timestamp

SETTLED = LIVE_WINDOW * 5  # a cutoff this far back cannot see an event a live write adds now
# Ids come from sequences, so a transaction that commits late can carry a lower id than one already
# seen; the time limits bound how long such a race could keep a figure that missed it.
PAST_TTL = 3600
CURRENT_TTL = 60


# Figures also read the pipelines' configuration (a stage's kind, position and configured
# probability: the prior of the learned probabilities and the timing table). Its triggers change a
# pipeline's rules version with every edit (dealgate.pipelines.models.RulesVersion); the sum of the
# versions is part of every mark, so an edited stage invalidates the figures at once. (Versions are
# random 64-bit numbers: summed modulo a prime, so SQLite's integer sum cannot overflow.)
_RULES = "(SELECT COALESCE(SUM(version - version / 2147483647 * 2147483647), 0) FROM pipelines_rulesversion)"


def _row(sql: str, params: list[Any]) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _last_rewrite() -> tuple[int, int]:
    last, rules = _row(f"SELECT (SELECT MAX(id) FROM deals_spanrewrite), {_RULES}", [])
    return last or 0, int(rules)


def _still_valid(mark: tuple[int, int], cutoff: dt.datetime) -> bool:
    """A past figure: no rewrite note since its mark says anything before `cutoff` changed, and the
    configuration is the same."""
    rewritten, rules = _row(
        "SELECT (SELECT 1 FROM deals_spanrewrite WHERE id > %s AND (changed_from IS NULL OR changed_from < %s) "
        f"LIMIT 1), {_RULES}", [mark[0], stored_timestamp(cutoff)])
    return rewritten is None and int(rules) == mark[1]


def _last_span() -> tuple[int, int]:
    last, rules = _row(f"SELECT (SELECT MAX(id) FROM deals_statespan), {_RULES}", [])
    return last or 0, int(rules)


def figure(fn: Callable) -> Callable:
    """Cache a read-only figure function that has a `cutoff` parameter (the instant it reads up to)."""
    signature = inspect.signature(fn)

    def key_of(args: tuple, kwargs: dict) -> tuple[str, bool, dt.datetime]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = sorted(bound.arguments.items())
        name = f"{connection.settings_dict['NAME']}:{fn.__module__}.{fn.__qualname__}:{arguments!r}"
        cutoff = bound.arguments["cutoff"]
        key = "dealgate-figure:" + hashlib.sha256(name.encode()).hexdigest()
        return key, cutoff <= timezone.now() - SETTLED, cutoff

    def stored(key: str, past: bool, cutoff: dt.datetime) -> tuple[bool, Any, tuple[int, int]]:
        """(whether a still valid value is stored, that value, the mark a value computed now gets)."""
        kept = cache.get(key)
        if past:
            if kept is not None and _still_valid(kept[0], cutoff):
                return True, kept[1], kept[0]
            return False, None, _last_rewrite()
        mark = _last_span()
        valid = kept is not None and kept[0] == mark
        return valid, kept[1] if valid else None, mark

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key, past, cutoff = key_of(args, kwargs)
        found, value, mark = stored(key, past, cutoff)
        if found:
            return value
        value = fn(*args, **kwargs)
        cache.set(key, (mark, value), PAST_TTL if past else CURRENT_TTL)
        return value

    def prime(value: Any, *args: Any, **kwargs: Any) -> None:
        """Store a value that another figure's query produced as a by-product (same rows, one scan),
        as if this figure had computed it for these arguments. The mark is read now: a write
        between that query and this call goes unseen for at most the time limit, as in a commit race."""
        key, past, _ = key_of(args, kwargs)
        cache.set(key, (_last_rewrite() if past else _last_span(), value), PAST_TTL if past else CURRENT_TTL)

    def is_stored(*args: Any, **kwargs: Any) -> bool:
        """Whether a call with these arguments would be served from the cache now."""
        return stored(*key_of(args, kwargs))[0]

    wrapper.uncached = fn  # type: ignore[attr-defined]
    wrapper.is_stored = is_stored  # type: ignore[attr-defined]
    wrapper.prime = prime  # type: ignore[attr-defined]
    return wrapper


def current_value(name: str, compute: Callable[[], Any], *parts: Any) -> Any:
    """A value read from the deals as they are now (a page's filter choices, counts of deals left out):
    reused while no span was written and the configuration is the same, as a current figure is, for
    at most CURRENT_TTL. `parts` tell apart the calls (viewer, scope); their repr is the key."""
    key = "dealgate-current:" + hashlib.sha256(
        f"{connection.settings_dict['NAME']}:{name}:{parts!r}".encode()).hexdigest()
    mark = _last_span()
    kept = cache.get(key)
    if kept is not None and kept[0] == mark:
        return kept[1]
    value = compute()
    cache.set(key, (mark, value), CURRENT_TTL)
    return value
