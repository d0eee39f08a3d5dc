"""Location store in SQLite: the embedded default, kept in the state directory.

WAL journal with synchronous=NORMAL: a commit appends to the log without an fsync, which
keeps a put well under a millisecond, and a crash loses at most the last commits, never
the database. Calls run inline on the loop for that reason. Expiry uses wall-clock time so
a record's time to live survives a restart.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from ipaddress import IPv6Address
from pathlib import Path

from .base import Location, LocationStore, LocationStoreError, WatchEvent, check_ttl

FILE_NAME = "lm.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS location (
    mn_identifier TEXT PRIMARY KEY,
    anchor TEXT NOT NULL,
    record TEXT NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS location_by_anchor ON location (anchor);
CREATE INDEX IF NOT EXISTS location_by_expiry ON location (expires_at) WHERE expires_at IS NOT NULL;
"""


class SqliteLocationStore(LocationStore):
    name = "sqlite"

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        """`path` is the database file, or a directory (the state directory) to hold it."""
        super().__init__()
        path = Path(path)
        if path.is_dir():
            path = path / FILE_NAME
        self.path = path
        self._clock = clock
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db: sqlite3.Connection | None = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise LocationStoreError(f"cannot open location database {path}: {exc}") from None

    async def put(self, location: Location, ttl: int | None = None) -> None:
        check_ttl(ttl)
        expires = self._clock() + ttl if ttl is not None else None
        self._execute(
            "INSERT INTO location (mn_identifier, anchor, record, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (mn_identifier) DO UPDATE SET anchor=excluded.anchor, record=excluded.record, "
            "expires_at=excluded.expires_at",
            (location.mn_identifier, str(location.anchor), location.to_json(), expires))
        self._notify(WatchEvent("put", location.mn_identifier, location))

    async def get(self, mn_identifier: str) -> Location | None:
        self._expire()
        row = self._execute("SELECT record FROM location WHERE mn_identifier = ?", (mn_identifier,)).fetchone()
        return Location.from_json(row[0]) if row is not None else None

    async def delete(self, mn_identifier: str) -> bool:
        self._expire()
        deleted = self._execute("DELETE FROM location WHERE mn_identifier = ?", (mn_identifier,)).rowcount > 0
        if deleted:
            self._notify(WatchEvent("delete", mn_identifier, None))
        return deleted

    async def list(self, anchor: IPv6Address | None = None) -> list[Location]:
        self._expire()
        if anchor is None:
            rows = self._execute("SELECT record FROM location ORDER BY mn_identifier", ())
        else:
            rows = self._execute("SELECT record FROM location WHERE anchor = ? ORDER BY mn_identifier", (str(anchor),))
        return [Location.from_json(row[0]) for row in rows.fetchall()]

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _expire(self) -> None:
        """Drop records whose time to live has passed, reporting each to watchers."""
        now = self._clock()
        expired = [row[0] for row in self._execute(
            "SELECT mn_identifier FROM location WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))]
        if expired:
            self._execute("DELETE FROM location WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
            for mn_identifier in expired:
                self._notify(WatchEvent("delete", mn_identifier, None))

    def _execute(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        if self._db is None:
            raise LocationStoreError(f"location database {self.path} is closed")
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise LocationStoreError(f"location database {self.path}: {exc}") from None
