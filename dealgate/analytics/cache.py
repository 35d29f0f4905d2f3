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

A figure declared `durable` (the forecast's past windows, decision 044) is also kept in the
database (analytics.StoredFigure) when its cutoff is past, under the same rule, so a new process
or an emptied cache finds it there instead of computing it again. Its key includes a fingerprint
of the analytics code (and numpy's version: the simulations' random streams), so a figure stored
by other code is never served.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from dealgate.deals.timeline import LIVE_WINDOW, stored_timestamp

SETTLED = LIVE_WINDOW * 5  # a cutoff this far back cannot see an event a live write adds now
# Ids come from sequences, so a transaction that commits late can carry a lower id than one already
# seen; the time limits bound how long such a race could keep a figure that missed it.
PAST_TTL = 3600
CURRENT_TTL = 60
KEEP_DAYS = 10  # a stored figure older than this is dropped (the next computation stores it again)


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


def _code_fingerprint() -> str:
    """What a stored figure was computed by: the analytics package's source and numpy's version."""
    digest = hashlib.sha256(np.__version__.encode())
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


CODE = _code_fingerprint()


def _stored_in_database(key: str, cutoff: dt.datetime) -> tuple[tuple[int, int], Any] | None:
    """(mark, value) of a durable figure kept in the database and still valid at `cutoff`: one query
    reads the row and checks the rewrite notes since its mark and the rules."""
    row = _row(
        "SELECT f.rewrite_mark, f.rules_mark, f.value, (SELECT 1 FROM deals_spanrewrite r WHERE r.id > f.rewrite_mark "
        f"AND (r.changed_from IS NULL OR r.changed_from < %s) LIMIT 1), {_RULES} "
        "FROM analytics_storedfigure f WHERE f.key = %s", [stored_timestamp(cutoff), key])
    if row is None or row[3] is not None or int(row[4]) != row[1]:
        return None
    try:
        return (row[0], row[1]), pickle.loads(bytes(row[2]))
    except Exception:  # noqa: BLE001 - an unreadable row is a missing one; computing it again replaces it
        return None


def _store_in_database(key: str, name: str, cutoff: dt.datetime, mark: tuple[int, int], value: Any) -> None:
    """Keep a durable figure (replacing an older row under its key) and drop rows older than
    KEEP_DAYS. A failure (a full disk, a read-only database) only costs the next process a recomputation."""
    now = timezone.now()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO analytics_storedfigure (key, name, cutoff, rewrite_mark, rules_mark, value, stored_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET rewrite_mark = EXCLUDED.rewrite_mark, "
                "rules_mark = EXCLUDED.rules_mark, value = EXCLUDED.value, stored_at = EXCLUDED.stored_at",
                [key, name[:200], stored_timestamp(cutoff), mark[0], mark[1],
                 pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), stored_timestamp(now)])
            cursor.execute("DELETE FROM analytics_storedfigure WHERE stored_at < %s",
                           [stored_timestamp(now - dt.timedelta(days=KEEP_DAYS))])
    except DatabaseError:
        pass


def _last_span() -> tuple[int, int]:
    last, rules = _row(f"SELECT (SELECT MAX(id) FROM deals_statespan), {_RULES}", [])
    return last or 0, int(rules)


def figure(fn: Callable | None = None, *, durable: bool = False) -> Callable:
    """Cache a read-only figure function that has a `cutoff` parameter (the instant it reads up to).
    `durable`: past-cutoff values are also kept in the database (decision 044); only for figures
    whose value pickles and that are expensive enough to be worth a row."""
    if fn is None:
        return functools.partial(figure, durable=durable)
    signature = inspect.signature(fn)
    qualified = f"{fn.__module__}.{fn.__qualname__}"

    def key_of(args: tuple, kwargs: dict) -> tuple[str, bool, dt.datetime]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = sorted(bound.arguments.items())
        name = f"{connection.settings_dict['NAME']}:{qualified}:{arguments!r}"
        cutoff = bound.arguments["cutoff"]
        key = "dealgate-figure:" + hashlib.sha256(name.encode()).hexdigest()
        return key, cutoff <= timezone.now() - SETTLED, cutoff

    def durable_key(key: str) -> str:
        return hashlib.sha256(f"{key}:{CODE}".encode()).hexdigest()

    def stored(key: str, past: bool, cutoff: dt.datetime) -> tuple[bool, Any, tuple[int, int]]:
        """(whether a still valid value is stored, that value, the mark a value computed now gets)."""
        kept = cache.get(key)
        if past:
            if kept is not None and _still_valid(kept[0], cutoff):
                return True, kept[1], kept[0]
            if durable:
                found = _stored_in_database(durable_key(key), cutoff)
                if found is not None:
                    cache.set(key, found, PAST_TTL)
                    return True, found[1], found[0]
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
        if durable and past:
            _store_in_database(durable_key(key), qualified, cutoff, mark, value)
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
