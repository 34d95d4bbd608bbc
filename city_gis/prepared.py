"""Server-side prepared statements for the hot lookups (geocoding, the duplicate search), once per connection.

A prepared statement saves the parse and the planning of a small lookup on every call — for these statements as
much as their execution. Behind pgBouncer in transaction pooling (settings: DISABLE_SERVER_SIDE_CURSORS) a
session's next statement may reach another server connection, which would not know the prepared name: there
the statement is sent in full.
"""

from __future__ import annotations

import weakref

# Names prepared on each (raw) connection; a new connection starts with none.
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_execute: dict[str, str] = {}  # name → its EXECUTE text


def statement(db, cur, name: str, sql: str, types: tuple[str, ...]) -> str:
    """What to execute on `cur` (a cursor of connection `db`) with the parameters of `sql` (`%s` placeholders, of
    the SQL `types` in order): `EXECUTE name(…)`, preparing it first on this connection, or `sql` itself."""
    if db.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        return sql
    raw = db.connection  # open: the cursor exists
    done = _prepared.get(raw)
    if done is None:
        done = _prepared[raw] = set()
    if name not in done:
        numbered = sql
        for i in range(1, len(types) + 1):
            numbered = numbered.replace("%s", f"${i}", 1)
        cur.execute(f"PREPARE {name}({', '.join(types)}) AS {numbered}")
        done.add(name)
        _execute[name] = f"EXECUTE {name}({', '.join(['%s'] * len(types))})"
    return _execute[name]
