"""Where the YANG modules live and the libyang context every part of dmm-nf shares."""
from __future__ import annotations

from pathlib import Path

import libyang
from _libyang import ffi, lib

# Our modules, in load order (types first).
DMM_MODULES: tuple[str, ...] = ("dmm-nf-types", "dmm-nf-alarms", "dmm-nf")

# Vendored IETF/IANA modules the product implements, with the features it implements.
# The NETCONF server relies on these; ietf-inet-types and ietf-yang-types come in as imports.
IETF_MODULES: dict[str, tuple[str, ...]] = {
    "ietf-netconf": ("writable-running", "candidate", "confirmed-commit", "rollback-on-error", "validate",
                     "startup", "xpath"),
    "ietf-netconf-with-defaults": (),
    "ietf-netconf-monitoring": (),
    "ietf-netconf-notifications": (),
    # RFC 5277 in YANG: create-subscription (NACM names it) and /netconf/streams
    "notifications": (),
    "nc-notifications": (),
    "ietf-netconf-acm": (),
    "ietf-datastores": (),
    "ietf-origin": (),
    # no "origin": <get-data> answers with-origin with operation-not-supported
    "ietf-netconf-nmda": ("with-defaults",),
    "iana-crypt-hash": ("crypt-hash-md5", "crypt-hash-sha-256", "crypt-hash-sha-512"),
    # RFC 8632: why these three and not shelving, profiles or correlation is in docs/alarms.md
    "ietf-alarms": ("operator-actions", "alarm-history", "alarm-summary"),
}


def _store_error_paths() -> None:
    """Make libyang keep the data/schema path with each stored error.

    The Python binding turns path building off; without it an error cannot name the node it
    is about (config errors, NETCONF <error-path>). Errors stay stored, never printed.
    """
    lib.ly_set_log_clb(ffi.NULL, True)


_store_error_paths()


def yang_dir() -> Path:
    """The repository's yang/ directory (our modules; IETF ones under yang/ietf/)."""
    return Path(__file__).resolve().parent.parent / "yang"


def search_path() -> str:
    """libyang search path: our modules, then the vendored IETF modules."""
    root = yang_dir()
    return f"{root}:{root / 'ietf'}"


def module_files() -> list[Path]:
    """Every module file we ship, ours first."""
    root = yang_dir()
    return sorted(root.glob("*.yang")) + sorted((root / "ietf").glob("*.yang"))


def new_context() -> libyang.Context:
    """A fresh context with our modules and the IETF modules we implement, features enabled."""
    ctx = libyang.Context(search_path())
    for name, features in IETF_MODULES.items():
        _enable_features(ctx.load_module(name), features)
    for name in DMM_MODULES:
        ctx.load_module(name)
    return ctx


def _enable_features(module: libyang.Module, features: tuple[str, ...]) -> None:
    """Set exactly these features (Module.feature_enable sets one and drops the others)."""
    if not features:
        return
    names = [ffi.new("char[]", f.encode()) for f in features]
    array = ffi.new("char *[]", [*names, ffi.NULL])
    if lib.lys_set_implemented(module.cdata, array) != lib.LY_SUCCESS:
        raise module.context.error(f"cannot enable features {features} of {module.name()}")
