"""The `dmm-nf` command: runs the network function with its management plane.

`dmm-nf run` loads and validates the configuration, builds the runtime (nf/), starts the
NETCONF server (mgmt/) and the metrics endpoint (exporters/) around it, and serves until
SIGINT or SIGTERM. A bad configuration ends with one line naming the file, the path and the
problem, and exit status 2; so does a start the host refuses (a busy signalling, NETCONF,
metrics or BFD port, a missing interface), naming the port or the interface. `check-config`
checks the file alone (it may run on another host than the function).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from mgmt.cli_errors import EXIT_USAGE, CliError, fail

PROG = "dmm-nf"
log = logging.getLogger("dmm-nf")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0..65535: {value}")
    return value


def default_state_dir(node_name: str) -> Path:
    """Per-node so that several functions on one host keep separate state."""
    if os.geteuid() == 0:
        base = Path("/var/lib/dmm-nf")
    else:
        base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "dmm-nf"
    return base / node_name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="dmm-nf: a managed mobility network function for IPv6 "
                                     "(PMIPv6 LMA / MAG, DMM MAAR)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the network function",
                         description="Run the network function with the given configuration.")
    run.add_argument("--config", required=True, type=Path, metavar="FILE",
                     help="configuration: XML or JSON of the dmm-nf YANG config (the content of <running>)")
    run.add_argument("--netconf-port", type=_port, metavar="N", help="NETCONF over SSH port (overrides the config)")
    run.add_argument("--metrics-port", type=_port, metavar="N", help="Prometheus metrics port (overrides the config)")
    run.add_argument("--state-dir", type=Path, metavar="DIR",
                     help="persistent state: datastores, restart counter, host key (default: per node name "
                          "under /var/lib/dmm-nf as root, ~/.local/state/dmm-nf otherwise)")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    check = sub.add_parser("check-config", help="validate a configuration file and exit",
                           description="Validate a configuration file against the YANG model and exit.")
    check.add_argument("config", type=Path, metavar="FILE")

    from mgmt import lab_cli  # the namespace lab: its own module and sub-commands

    lab_cli.add_parser(sub)
    return parser


def _load(path: Path):
    from nf.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as e:
        raise CliError(str(e), EXIT_USAGE) from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-config":
            _load(args.config)
            print(f"{args.config}: valid")
            return 0
        if args.command == "lab":
            from mgmt import lab_cli

            return lab_cli.run(args)
        return run(args)
    except CliError as e:
        return fail(PROG, e)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tree = _load(args.config)
    from mgmt.netconf.datastore import DatastoreError
    from mgmt.service import Service, ServiceOptions
    from nf.dataplane.base import DataPlaneError
    from nf.history import HistoryFileError
    from nf.hostcheck import HostCheckError

    options = ServiceOptions(config_path=args.config, netconf_port=args.netconf_port,
                             metrics_port=args.metrics_port, state_dir=args.state_dir)
    try:
        service = Service(tree, options, default_state_dir=default_state_dir)
    except DatastoreError as e:  # a saved datastore the node cannot boot from
        raise CliError(str(e), EXIT_USAGE) from None
    except HostCheckError as e:
        raise CliError(f"{args.config}: {e}", EXIT_USAGE) from None
    except DataPlaneError as e:  # e.g. an encapsulation this kernel cannot carry
        raise CliError(f"{args.config}: /dmm-nf:dmm-nf/dataplane: {e}", EXIT_USAGE) from None
    except HistoryFileError as e:  # the state directory's event history cannot be used
        raise CliError(f"cannot start: {e}") from None
    from mgmt.service import StartupError
    from nf.liveness.bfd import BfdError

    _raise_open_file_limit()
    try:
        asyncio.run(_serve(service))
    except CliError:
        raise
    except (StartupError, BfdError) as e:  # a busy port, a missing privilege: the message names it
        raise CliError(f"cannot start: {e}", EXIT_USAGE) from None
    except OSError as e:  # anything else the host refused: the operator can act on these too
        raise CliError(f"cannot start: {(e.strerror or str(e)).lower()}"
                       + (f": {e.filename}" if e.filename else ""), EXIT_USAGE) from None
    except Exception as e:
        log.exception("fatal error")
        raise CliError(f"stopped on an internal error: {type(e).__name__}: {e}") from None
    return 0


def _raise_open_file_limit() -> None:
    """BFD needs a file descriptor per session (docs/bfd.md): take the hard limit as the soft
    one, so 1,000 sessions do not meet a soft limit of 1,024."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # keep the soft limit; adding a session beyond it is one clear error


async def _serve(service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
        await stop.wait()
    finally:
        await service.stop()


if __name__ == "__main__":
    sys.exit(main())
