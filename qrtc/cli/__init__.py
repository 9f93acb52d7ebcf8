"""The ``qrtc`` command line: ``check``, ``fmt``, ``train``, ``compile``, ``report``, ``plot``,
``run``, ``resources``, ``scale``, ``verify``.

:mod:`~qrtc.cli.arguments` parses the command line, :mod:`~qrtc.cli.commands` holds each
command's body (a thin consumer of :func:`qrtc.compile`), :mod:`~qrtc.cli.output` what they
print, :mod:`~qrtc.cli.run_report` the report of ``qrtc run`` and :mod:`~qrtc.cli.emit` the
writers of ``qrtc compile --emit``.

A user's mistake (any :class:`~qrtc.errors.QrtError`) is printed without a traceback and exits
with status 2, like a mistake in the command line. Any other exception is a bug in qrtc and is
let through.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from qrtc.errors import QrtError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USER_ERROR", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USER_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qrtc`` command; returns the exit status."""
    from qrtc.cli import commands
    from qrtc.cli.arguments import UsageError, build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    try:
        run = getattr(commands, f"{args.command_name}_command")
        status: int = run(args)
        return status
    except UsageError as error:
        print(f"qrtc: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except QrtError as error:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": error.to_json()}, indent=2))
        print(error, file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `qrtc train x.qrt | head`
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
