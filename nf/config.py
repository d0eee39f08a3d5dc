"""Load a configuration file (XML or JSON of the dmm-nf YANG config) through libyang.

The file holds the same content as the `<running>` datastore. It is parsed strictly (unknown
nodes are errors, state nodes are errors) and validated as configuration: types, ranges,
mandatory leaves, `must`, `when` and leafrefs. Any problem raises `ConfigError`, whose
str() is one line: "<file>: <yang path>: <problem>".

The file is read only if it is a regular file (a FIFO or a device such as /dev/zero would
block or never end), at most `MAX_CONFIG_BYTES` of it, and only as UTF-8 text without NUL
characters (XML 1.0 §2.2 and RFC 8259 §7 admit none): a binary or oversized file is refused
before anything parses it.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import libyang
from _libyang import ffi, lib

from nf.model import new_context

# libyang appends the location to its messages ("(Data location "/a/b", line number 4.)").
_LOCATION = re.compile(r'(?:Data|Schema) location "(?P<path>[^"]*)"(?:, line number (?P<line>\d+))?')


MAX_CONFIG_BYTES = 64 * 1024 * 1024  # a policy store of ~300,000 mobile nodes in XML


class ConfigError(Exception):
    """A configuration file cannot be used: unreadable, malformed or invalid for the model."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file = file
        self.path = path
        self.problem = problem
        super().__init__(f"{file}: {path}: {problem}")


def load_config(path: str | Path, ctx: libyang.Context | None = None) -> libyang.DNode:
    """The validated configuration of `path`: its /dmm-nf:dmm-nf node (other top-level
    configuration, e.g. NACM, stays reachable as its siblings).

    XML or JSON is chosen by the extension (.xml, .json), else by the first character.
    `ctx` defaults to a fresh `nf.model.new_context()`; the tree keeps it alive.
    """
    file = str(path)
    text = read_text(file)
    fmt = _format(Path(path), text)
    if fmt is None:
        raise ConfigError(file, "/", "neither XML nor JSON (expected a .xml or .json file)")
    if ctx is None:
        ctx = new_context()
    tree = _parse(ctx, file, text, fmt)
    top = _find_top(tree)
    if top is None:
        raise ConfigError(file, "/dmm-nf:dmm-nf", "missing: the file configures no dmm-nf container")
    return top


def read_text(file: str, limit: int = MAX_CONFIG_BYTES) -> str:
    """The text of configuration file `file`; ConfigError naming the file when it is not a
    readable regular file of at most `limit` bytes of UTF-8 text."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(file, "/", f"cannot read: {_reason(exc)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(file, "/", f"cannot read: not a regular file ({_kind(mode)})")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ConfigError(file, "/", f"cannot read: {_reason(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ConfigError(file, "/", f"larger than {limit // (1024 * 1024)} MiB: not a configuration file")
    nul = data.find(b"\0")
    if nul >= 0:
        raise ConfigError(file, "/", f"binary data (a NUL byte at offset {nul}): not a configuration file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(file, "/", f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def _find_top(tree: libyang.DNode | None) -> libyang.DNode | None:
    """The /dmm-nf:dmm-nf node among the top-level siblings (NACM and others may sit beside it)."""
    if tree is None:
        return None
    for node in tree.first_sibling().siblings(include_self=True):
        if node.module().name() == "dmm-nf" and node.name() == "dmm-nf":
            return node
    return None


def _format(path: Path, text: str) -> str | None:
    suffix = path.suffix.lower()
    if suffix in (".xml", ".json"):
        return suffix[1:]
    start = text.lstrip()[:1]
    return {"<": "xml", "{": "json"}.get(start)


def _parse(ctx: libyang.Context, file: str, text: str, fmt: str) -> libyang.DNode | None:
    """Parse and validate as configuration data, reporting libyang's first error."""
    data_in = ffi.new("struct ly_in **")
    buf = ffi.new("char[]", text.encode("utf-8"))
    if lib.ly_in_new_memory(buf, data_in) != lib.LY_SUCCESS:
        raise ConfigError(file, "/", "cannot read input")
    tree = ffi.new("struct lyd_node **")
    parse_options = lib.LYD_PARSE_STRICT | lib.LYD_PARSE_NO_STATE
    validate_options = lib.LYD_VALIDATE_NO_STATE
    fmt_code = lib.LYD_XML if fmt == "xml" else lib.LYD_JSON
    ret = lib.lyd_parse_data(ctx.cdata, ffi.NULL, data_in[0], fmt_code, parse_options,
                             validate_options, tree)
    lib.ly_in_free(data_in[0], 0)
    if ret != lib.LY_SUCCESS:
        error = _first_error(ctx, file)
        if tree[0] != ffi.NULL:
            lib.lyd_free_all(tree[0])
        raise error
    if tree[0] == ffi.NULL:
        return None
    return libyang.DNode.new(ctx, tree[0])


def _first_error(ctx: libyang.Context, file: str) -> ConfigError:
    err = lib.ly_err_first(ctx.cdata)
    if err == ffi.NULL:
        return ConfigError(file, "/", "invalid configuration")
    message = ffi.string(err.msg).decode() if err.msg else "invalid configuration"
    location = ffi.string(err.path).decode() if err.path else ""
    lib.ly_err_clean(ctx.cdata, ffi.NULL)
    return _error_from(file, message, location)


def _error_from(file: str, message: str, location: str) -> ConfigError:
    """Split libyang's message and location into the YANG path and the problem."""
    match = _LOCATION.search(location) or _LOCATION.search(message)
    path = match.group("path") if match and match.group("path") else "/"
    problem = _LOCATION.sub("", message).strip().rstrip(".").strip(" ()")
    if match and match.group("line"):
        problem += f" (line {match.group('line')})"
    return ConfigError(file, path, " ".join(problem.split()))
