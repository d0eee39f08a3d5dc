"""Confirmed-commit bookkeeping (RFC 6241 §8.4, :confirmed-commit:1.1).

Holds the running configuration from before the first confirmed commit, the session that
issued it (or its persist token), and the timer whose expiry rolls running back.
"""
from __future__ import annotations

import threading
from typing import Callable, Optional

import libyang

from mgmt.netconf.errors import invalid_value, operation_failed


class ConfirmedCommit:
    def __init__(self, lock: threading.RLock, on_expire: Callable[[], None]) -> None:
        self._lock = lock
        self._on_expire = on_expire
        self._timer: Optional[threading.Timer] = None
        self._generation = 0
        self.pending = False
        self.session_id: Optional[int] = None  # None once the commit is persistent
        self.persist: Optional[str] = None
        self._backup: Optional[libyang.DNode] = None

    def owned_by(self, session_id: int) -> bool:
        """True when a pending non-persistent commit belongs to ``session_id``."""
        return self.pending and self.persist is None and self.session_id == session_id

    def check_follow_up(self, session_id: int, persist_id: Optional[str]) -> None:
        """RFC 6241 §8.4.1: a follow-up commit or cancel-commit needs the persist-id when
        the confirmed commit gave <persist>, else it must come from the same session."""
        if self.persist is not None:
            if persist_id != self.persist:
                raise invalid_value("persist-id does not match the pending confirmed commit",
                                    error_type="protocol")
        elif persist_id is not None:
            raise invalid_value("the pending confirmed commit has no persist token", error_type="protocol")
        elif session_id != self.session_id:
            raise operation_failed(f"the pending confirmed commit belongs to session {self.session_id}",
                                   error_type="protocol")

    def start(self, session_id: int, persist: Optional[str], timeout: float,
              backup: Optional[libyang.DNode]) -> None:
        """A confirmed commit was applied; ``backup`` is running from before it (ignored
        for a follow-up confirmed commit, which keeps the original)."""
        if not self.pending:
            self._backup = backup
        self.pending = True
        self.persist = persist
        self.session_id = session_id
        self._arm(timeout)

    def confirm(self) -> Optional[libyang.DNode]:
        """The change is confirmed: returns the backup for the caller to free."""
        return self._finish()

    def take_backup(self) -> tuple[bool, Optional[libyang.DNode]]:
        """Ends the pending commit for a rollback: (was it pending, backup to restore)."""
        was_pending = self.pending
        return was_pending, self._finish()

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _finish(self) -> Optional[libyang.DNode]:
        self.cancel_timer()
        self._generation += 1
        backup, self._backup = self._backup, None
        self.pending = False
        self.session_id = None
        self.persist = None
        return backup

    def _arm(self, timeout: float) -> None:
        self.cancel_timer()
        self._generation += 1
        generation = self._generation
        self._timer = threading.Timer(timeout, self._expired, args=(generation,))
        self._timer.daemon = True
        self._timer.start()

    def _expired(self, generation: int) -> None:
        with self._lock:
            if self.pending and generation == self._generation:
                self._on_expire()
