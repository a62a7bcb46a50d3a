"""``skeletonzoo``: the zoo's command line.

Each subcommand lives in its own ``cli/_<name>.py`` module exposing ``add_parser(sub)``,
which declares the arguments and binds a handler; handlers only parse, call the library and
print. Errors skeletonzoo raises on purpose are printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from .._version import __version__
from ..exceptions import SkeletonZooError, SkeletonZooWarning

Handler = Callable[[argparse.Namespace], int]

# Subcommand modules, in the order `skeletonzoo --help` lists them.
SUBCOMMAND_MODULES: list[str] = ["_demo", "_list", "_info", "_embed", "_convert", "_prepare", "_cache"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skeletonzoo",
        description="Self-supervised skeleton action encoders: list, load, embed, convert.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").add_parser(sub)
    return parser


def _recording() -> bool:
    """Whether an enclosing ``warnings.catch_warnings(record=True)`` collects warnings: it swaps
    the module's ``_showwarnmsg_impl`` (CPython's private hook; absent elsewhere: not recording)
    for its list's ``append``."""
    impl = getattr(warnings, "_showwarnmsg_impl", None)
    return impl is not None and getattr(impl, "__name__", "") != "_showwarnmsg_impl"


@contextlib.contextmanager
def own_warnings_as_lines(prog: str) -> Iterator[None]:
    """Inside: skeletonzoo's warnings print as one ``PROG: warning: ...`` line, like its errors
    (not Python's file:line and source echo); other warnings as Python shows them."""
    with warnings.catch_warnings():  # restores showwarning on the way out
        python_show = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None, **_: Any) -> None:  # fmt: skip
            if not issubclass(category, SkeletonZooWarning):
                python_show(message, category, filename, lineno, file, line)
                return
            print(f"{prog}: warning: {message}", file=file or sys.stderr, flush=True)
            if _recording():  # a caller's catch_warnings(record=True) / pytest.warns: let it record it too
                python_show(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def exit_quietly(prog: str, run: Callable[[], int]) -> int:
    """``run()``, with Ctrl-C and a closed output pipe ending the command in one line, not a
    traceback: 130 after an interrupt (outputs are written atomically, so none is left half
    written), 1 when stdout went away (``skeletonzoo list | head -1``); skeletonzoo's warnings
    print as one line (:func:`own_warnings_as_lines`)."""
    try:
        with own_warnings_as_lines(prog):
            status = run()
        sys.stdout.flush()  # here, so that a reader gone away is caught below and not at exit
        return status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no output was left half-written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader is gone: send what is still buffered nowhere, so the exit flush cannot fail
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``skeletonzoo``; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    prog = f"skeletonzoo {args.command}"

    def run() -> int:
        try:
            return handler(args)
        except (SkeletonZooError, FileNotFoundError, ValueError) as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2

    return exit_quietly(prog, run)


if __name__ == "__main__":
    sys.exit(main())
