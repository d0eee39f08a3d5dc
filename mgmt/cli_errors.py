"""One-line command-line errors shared by `dmm-nf` and `dmmctl`.

An operator at 3 a.m. wants one line that says what is wrong, not a traceback: every
expected failure raises `CliError`, and the entry points print `PROG: error: MESSAGE` and
exit with the error's status (2 for bad input, as argparse does; 1 for a failure at run time).
"""
from __future__ import annotations

import sys

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(Exception):
    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


def fail(prog: str, error: CliError) -> int:
    message = " ".join(str(error).split())  # one line, whatever the cause contained
    print(f"{prog}: error: {message}", file=sys.stderr)
    return error.status
