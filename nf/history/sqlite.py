"""The durable event history's file: SQLite in WAL mode, the events kept in blocks.

One row of `blocks` holds the events of one write, up to BLOCK_EVENTS of them, as a JSON array
of `[sequence, time in microseconds since the epoch, kind, data]`; the row also carries the
first and last sequence numbers, the earliest and latest time and the kinds it holds, so a
query reads only the blocks that can match. One row per block rather than per event keeps
the cost of writing an event to its JSON text (about 2 µs) instead of a row insert with its
index updates (about 10 µs): a registration rate of 10,000/s would otherwise spend a tenth of
its core on history. `meta` keeps the last sequence number given, so numbering goes on after
a restart even when every event has aged out.

Every write is one transaction, committed with synchronous=FULL: once it returns, the block
is on disk and survives a power loss as well as a kill -9.

A file that SQLite finds corrupt, that is not a database, or that holds another format is
set aside (renamed `events.db.corrupt-<UTC time>`, with its WAL) and a new one started: the
node keeps serving and the old file is kept for whoever wants to look into it. A file that
cannot be opened at all (a directory in its place, no permission, a read-only file system)
is an error for the operator.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nf.history.query import EventPage, EventQuery, StoredEvent

log = logging.getLogger(__name__)

FILE_NAME = "events.db"
FORMAT = 1  # PRAGMA user_version of the layout below
BLOCK_EVENTS = 256

_SCHEMA = """
CREATE TABLE blocks (
    first_seq INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    min_us INTEGER NOT NULL,
    max_us INTEGER NOT NULL,
    kinds TEXT NOT NULL,
    events TEXT NOT NULL
);
CREATE INDEX blocks_by_time ON blocks (max_us);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('last-sequence', 0);
PRAGMA user_version = 1;
"""
# SQLite result codes of a file that is damaged or not a database at all
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB

Block = tuple[int, int, int, int, str, str]  # a row of `blocks`


class HistoryFileError(Exception):
    """The history file cannot be used; the message names it and says why."""


class _NotOurs(Exception):
    """The file opens but is not a sound event history of this format."""


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _check(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version == 0 and not tables:
        db.executescript(_SCHEMA)
        return
    if version != FORMAT or not {"blocks", "meta"} <= tables:
        raise _NotOurs(f"not an event history of format {FORMAT} (user_version {version}, "
                       f"tables {', '.join(sorted(tables)) or 'none'})")
    problems = [row[0] for row in db.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise _NotOurs(f"damaged: {problems[0]}")


class HistoryFile:
    """The open file; used by one thread at a time (the history's writer)."""

    def __init__(self, path: Path, set_aside: Path | None = None, reason: str | None = None) -> None:
        self.path = path
        self.set_aside = set_aside  # where a damaged predecessor went, if one was found
        self.set_aside_reason = reason
        self._db: sqlite3.Connection | None = None

    @classmethod
    def open(cls, path: Path) -> "HistoryFile":
        """Open or create the history at `path`; a damaged file is set aside first."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HistoryFileError(f"cannot create the directory of the event history {path}: "
                                   f"{e.strerror or e}") from None
        try:
            return cls(path)._opened()
        except _NotOurs as e:
            reason = str(e)
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        try:
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                companion = Path(f"{path}{suffix}")
                if companion.exists():
                    companion.rename(Path(f"{aside}{suffix}"))
        except OSError as e:
            raise HistoryFileError(f"event history {path}: {reason}, and it cannot be set aside: "
                                   f"{e.strerror or e}") from None
        log.warning("event history %s: %s; set aside as %s, a new history starts", path, reason, aside.name)
        try:
            return cls(path, aside, reason)._opened()
        except _NotOurs as e:  # a fresh file cannot be damaged; if it is, the disk is the problem
            raise HistoryFileError(f"event history {path}: {e}") from None

    def _opened(self) -> "HistoryFile":
        db = None
        try:
            db = _connect(self.path)
            _check(db)
        except sqlite3.DatabaseError as e:
            if db is not None:
                db.close()
            if getattr(e, "sqlite_errorcode", None) in _CORRUPT_CODES:
                raise _NotOurs(str(e)) from None
            raise HistoryFileError(f"cannot open the event history {self.path}: {e}") from None
        except _NotOurs:
            db.close()
            raise
        self._db = db
        return self

    def last_sequence(self) -> int:
        return self._db.execute("SELECT value FROM meta WHERE key = 'last-sequence'").fetchone()[0]

    def append(self, blocks: Sequence[Block], last_sequence: int, floor_sequence: int, floor_us: int | None) -> None:
        """Write `blocks` and drop what the bounds no longer keep, in one transaction."""
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?)", blocks)
            db.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'last-sequence'", (last_sequence,))
            self._prune(floor_sequence, floor_us)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _prune(self, floor_sequence: int, floor_us: int | None) -> None:
        # blocks never overlap, so a block wholly at or below the floor starts at or below it too
        self._db.execute("DELETE FROM blocks WHERE first_seq <= ?1 AND last_seq <= ?1", (floor_sequence,))
        if floor_us is not None:
            self._db.execute("DELETE FROM blocks WHERE max_us < ?", (floor_us,))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def encode_block(rows: list[tuple[int, int, str, dict[str, Any]]]) -> Block:
    """A block row from (sequence, microseconds, kind, data) in sequence order."""
    times = [row[1] for row in rows]
    kinds = "," + ",".join(sorted({row[2] for row in rows})) + ","
    return (rows[0][0], rows[-1][0], min(times), max(times), kinds, _dumps(rows))


def _jsonable(value: Any) -> Any:
    """Data values JSON does not know: addresses and prefixes as their text, bytes as hex."""
    if isinstance(value, (bytes, bytearray)):
        return value.hex(":")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


_dumps = json.JSONEncoder(separators=(",", ":"), default=_jsonable).encode


def read_page(path: Path, query: EventQuery, floor_sequence: int, floor_us: int | None) -> EventPage:
    """The events of the file at `path` that `query` selects and the bounds still keep
    (sequence above `floor_sequence`, time at or after `floor_us`)."""
    found: list[StoredEvent] = []
    for sequence, time_us, kind, data in _candidates(path, query, floor_sequence, floor_us):
        if (sequence <= floor_sequence or (floor_us is not None and time_us < floor_us)
                or not query.matches(sequence, time_us, kind, data)):
            continue
        if query.limit is not None and len(found) == query.limit:
            return EventPage(found, more=True)
        found.append(StoredEvent(sequence, time_us / 1_000_000, kind, data))
    return EventPage(found)


def _candidates(path: Path, query: EventQuery, floor_sequence: int,
                floor_us: int | None) -> Iterator[list[Any]]:
    """Events of the blocks that can hold a match, in the query's order."""
    where, params = ["last_seq > ?"], [max(floor_sequence, query.after_sequence or 0)]
    if query.before_sequence is not None:
        where.append("first_seq < ?")
        params.append(query.before_sequence)
    since = max(v for v in (floor_us, query.since_us) if v is not None) \
        if floor_us is not None or query.since_us is not None else None
    if since is not None:
        where.append("max_us >= ?")
        params.append(since)
    if query.until_us is not None:
        where.append("min_us <= ?")
        params.append(query.until_us)
    if query.kinds:
        where.append("(" + " OR ".join("instr(kinds, ?) > 0" for _ in query.kinds) + ")")
        params.extend(f",{kind}," for kind in sorted(query.kinds))
    # a block's text holds a node's identifier or a peer's address as the encoder wrote them:
    # SQLite skips, without decoding, the blocks that cannot match (the match itself is exact)
    if query.mn_identifier is not None:
        where.append("instr(events, ?) > 0")
        params.append(f'"mn-identifier":{json.dumps(query.mn_identifier)}')
    if query.peer is not None:
        where.append("instr(events, ?) > 0")
        params.append(json.dumps(str(query.peer)))
    order = "DESC" if query.newest_first else "ASC"
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=10)
    except sqlite3.Error as e:
        raise HistoryFileError(f"cannot read the event history {path}: {e}") from None
    try:
        db.execute("PRAGMA query_only = 1")
        cursor = db.execute(f"SELECT events FROM blocks WHERE {' AND '.join(where)} ORDER BY first_seq {order}",
                            params)
        for (text,) in cursor:
            events = json.loads(text)
            yield from (reversed(events) if query.newest_first else events)
    except sqlite3.Error as e:
        raise HistoryFileError(f"cannot read the event history {path}: {e}") from None
    finally:
        db.close()
