"""XPath filters evaluated in worker processes, so that one can be ended.

libyang evaluates an XPath expression in one C call that cannot be interrupted, and some
expressions cost far more than the data they run on (``//*[count(//*)>0]`` is quadratic:
minutes over 2,000 bindings). A filter that is more than absolute paths with equality
predicates (``XPathFilter.bounded``) is therefore evaluated in a worker process: the tree goes
to it in libyang's binary format (LYB, which keeps default flags and metadata), the worker
selects and prunes exactly as the server would, and sends the pruned tree back. When the
request's budget ends, or its client goes, the worker is killed (SIGKILL) and the request
ends; the next one starts a fresh worker.

Workers are started with ``python -m mgmt.netconf.xpath_worker`` (never forked from the
threaded server: a fork could inherit libyang's dictionary lock held by another thread),
build a context with the server's modules and features from its YANG library, and serve one
request at a time over their stdin/stdout. At most ``max_workers`` run at once; a request
waits for one within its budget. Idle workers are kept for the next request, and die with
the server (PR_SET_PDEATHSIG) or when their stdin closes.

Frames on the pipes: a 4-octet big-endian length and that many octets. A request is two
frames, a JSON header (``expr``, ``max_depth``) and the LYB tree; a reply is one status
octet (``T``: the LYB tree follows, empty for none; ``E``: a filter error message follows)
and one frame.
"""
from __future__ import annotations

import json
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Optional

import libyang
from _libyang import ffi, lib

from mgmt.netconf.budget import OverTimeLimit, RequestAbandoned, RequestBudget
from mgmt.netconf.filters import RequestError, XPathFilter, prune_forest

log = logging.getLogger(__name__)

MAX_WORKERS = 4
_POLL = 0.05  # seconds between two looks at the budget while a worker evaluates
_RETIRE_RSS = 512 * 1024 * 1024  # a worker grown past this after a request is not kept
_LENGTH = struct.Struct(">I")


class WorkerFailed(Exception):
    """A worker ended or answered nonsense: the request fails, the server goes on."""


# ------------------------------------------------------------------ LYB, both sides
def to_lyb(tree: Optional[libyang.DNode]) -> bytes:
    """The forest ``tree`` in LYB (its length is only known from the written output)."""
    if tree is None:
        return b""
    fd = os.memfd_create("lyb", os.MFD_CLOEXEC)
    try:
        out = ffi.new("struct ly_out **")
        if lib.ly_out_new_fd(fd, out) != lib.LY_SUCCESS:
            raise WorkerFailed("cannot print LYB")
        try:
            ret = lib.lyd_print_all(out[0], tree.first_sibling().cdata, lib.LYD_LYB, 0)
        finally:
            lib.ly_out_free(out[0], ffi.NULL, False)
        if ret != lib.LY_SUCCESS:
            raise WorkerFailed("cannot print LYB")
        return os.pread(fd, os.lseek(fd, 0, os.SEEK_END), 0)
    finally:
        os.close(fd)


def from_lyb(ctx: libyang.Context, data: bytes) -> Optional[libyang.DNode]:
    if not data:
        return None
    return ctx.parse_data_mem(data, "lyb", parse_only=True, strict=True)


def _write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    parts, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("pipe closed")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_frame(stream: IO[bytes]) -> bytes:
    (size,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))
    return _read_exactly(stream, size)


def context_setup(ctx: libyang.Context) -> bytes:
    """What a worker needs to build a context like ``ctx``: the directories of its modules'
    files and its YANG library (modules, revisions, features)."""
    directories = sorted({str(Path(ffi.string(m.cdata.filepath).decode()).parent)
                          for m in ctx if m.cdata.filepath != ffi.NULL})
    yanglib = ctx.get_yanglib_data()
    try:
        text = yanglib.print_mem("json", with_siblings=True)
    finally:
        yanglib.free()
    return json.dumps({"directories": directories, "yanglib": text}).encode()


# ------------------------------------------------------------------ the server's side
class _Worker:
    def __init__(self, setup: bytes) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "mgmt.netconf.xpath_worker", str(os.getpid())],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            _write_frame(self.process.stdin, setup)
            self.process.stdin.flush()
            status = self.process.stdout.read(1)
        except (OSError, ValueError) as exc:
            self.kill()
            raise WorkerFailed(f"the XPath worker did not start: {exc}") from None
        if status != b"R":
            self.kill()
            raise WorkerFailed(f"the XPath worker did not start (exit status {self.process.wait()})")

    def evaluate(self, expr: str, max_depth: Optional[int], data: bytes,
                 budget: RequestBudget) -> tuple[bytes, bytes]:
        """(status, payload) of the worker's reply; the budget is watched while it works."""
        stdin, stdout = self.process.stdin, self.process.stdout
        try:
            _write_frame(stdin, json.dumps({"expr": expr, "max_depth": max_depth}).encode())
            _write_frame(stdin, data)
            stdin.flush()
            while not select.select([stdout], [], [], max(0.0, min(_POLL, budget.remaining())))[0]:
                budget.check()
            status = stdout.read(1)
            if status not in (b"T", b"E"):
                raise WorkerFailed(f"the XPath worker ended (exit status {self.process.wait()})")
            return status, _read_frame(stdout)
        except (OSError, EOFError, ValueError) as exc:
            raise WorkerFailed(f"the XPath worker failed: {exc}") from None

    def rss(self) -> int:
        try:
            pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            return 0
        return pages * os.sysconf("SC_PAGE_SIZE")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class XPathWorkers:
    """The worker processes of one server (module doc)."""

    def __init__(self, ctx: libyang.Context, max_workers: int = MAX_WORKERS) -> None:
        self.ctx = ctx
        self._setup: Optional[bytes] = None
        self._slots = threading.BoundedSemaphore(max_workers)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self.started = 0  # workers started so far (a test sees each kill as a new one)

    def select(self, tree: libyang.DNode, expr: str, max_depth: Optional[int],
               budget: RequestBudget) -> Optional[libyang.DNode]:
        """A new tree: ``tree`` pruned to what ``expr`` selects. ``tree`` is freed when this
        returns; on an exception it is left as it was, the caller's."""
        data = to_lyb(tree)
        if not self._slots.acquire(timeout=max(0.0, budget.remaining())):
            budget.check()
            raise OverTimeLimit(budget.limit)
        try:
            worker = self._take()
            try:
                status, payload = worker.evaluate(expr, max_depth, data, budget)
            except (OverTimeLimit, RequestAbandoned, WorkerFailed):
                self._end(worker)
                raise
            self._give_back(worker)
        finally:
            self._slots.release()
        if status == b"E":
            raise RequestError(payload.decode("utf-8", "replace"))
        try:
            result = from_lyb(self.ctx, payload)
        except libyang.LibyangError as exc:
            raise WorkerFailed(f"the XPath worker's answer cannot be read: {exc}") from None
        lib.lyd_free_all(tree.cdata)
        return result

    def live_pids(self) -> list[int]:
        """Process ids of the workers running now, idle or busy."""
        with self._lock:
            return [w.process.pid for w in (*self._idle, *self._busy)]

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle:
                worker = self._idle.pop()
                self._busy.add(worker)
                return worker
            if self._setup is None:
                self._setup = context_setup(self.ctx)
            self.started += 1
        worker = _Worker(self._setup)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if not self._closed and worker.rss() < _RETIRE_RSS:
                self._idle.append(worker)
                return
        worker.kill()

    def _end(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()  # a busy one is killed by its request, which the closing session ends


# ------------------------------------------------------------------ the worker's side
def _die_with_parent(parent: int) -> None:
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the server went before the signal was asked for
        os._exit(0)


def _worker_context(setup: dict) -> libyang.Context:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json") as yanglib:
        yanglib.write(setup["yanglib"])
        yanglib.flush()
        return libyang.Context(":".join(setup["directories"]), yanglib_path=yanglib.name, yanglib_fmt="json")


def _serve(ctx: libyang.Context, requests: IO[bytes], replies: IO[bytes]) -> None:
    while True:
        try:
            header = json.loads(_read_frame(requests))
            data = _read_frame(requests)
        except EOFError:
            return
        tree = None
        try:
            tree = from_lyb(ctx, data)
            xpath = XPathFilter.evaluated_here(header["expr"], ctx)
            tree = prune_forest(tree, xpath.selection(tree), header["max_depth"]) if tree is not None else None
            status, payload = b"T", to_lyb(tree)
        except RequestError as err:
            status, payload = b"E", str(err).encode()
        finally:
            if tree is not None:
                lib.lyd_free_all(tree.cdata)
        replies.write(status)
        _write_frame(replies, payload)
        replies.flush()


def main() -> None:
    _die_with_parent(int(sys.argv[1]))
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    ctx = _worker_context(json.loads(_read_frame(requests)))
    replies.write(b"R")
    replies.flush()
    _serve(ctx, requests, replies)


if __name__ == "__main__":
    main()
