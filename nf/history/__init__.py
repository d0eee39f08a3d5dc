"""The event history: every event the runtime publishes, bounded by count and age, queryable
by time, kind, mobile node and peer. In memory for tests (`MemoryHistory`), durable in the
state directory for a running node (`DurableHistory`, SQLite)."""
from nf.history.durable import DurableHistory
from nf.history.memory import MemoryHistory
from nf.history.query import EventHistory, EventPage, EventQuery, HistoryStatus, StoredEvent
from nf.history.sqlite import HistoryFileError

__all__ = ["DurableHistory", "EventHistory", "EventPage", "EventQuery", "HistoryFileError", "HistoryStatus",
           "MemoryHistory", "StoredEvent"]
