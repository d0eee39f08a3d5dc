"""A libyang context with the IETF NETCONF modules and the example-top test model."""
from pathlib import Path

import libyang

ROOT = Path(__file__).resolve().parents[3]
IETF_DIRS = [ROOT / "yang" / "ietf", ROOT / ".venv/share/yang/modules/ietf", ROOT / ".venv/share/yang/modules/iana"]
HERE = Path(__file__).resolve().parent

MODULES = [
    "ietf-netconf",
    "ietf-netconf-acm",
    "ietf-netconf-monitoring",
    "ietf-netconf-nmda",
    "ietf-netconf-notifications",
    "notifications",
    "nc-notifications",
    "ietf-netconf-with-defaults",
    "ietf-subscribed-notifications",
    "ietf-yang-library",
    "ietf-origin",
    "ietf-datastores",
    "example-top",
]


def make_context() -> libyang.Context:
    search = ":".join(str(d) for d in [HERE, *IETF_DIRS] if d.is_dir())
    ctx = libyang.Context(search)
    for name in MODULES:
        module = ctx.load_module(name)
        if name in ("ietf-netconf", "ietf-netconf-nmda", "ietf-subscribed-notifications"):
            module.feature_enable_all()
    return ctx
