"""The ``memorygraph`` command: demo, chat, ingest, inspect, export, threads, forget, replay.

Exit codes scripts can rely on: 0 success, 1 a memorygraph error (the message
says what to fix), 2 bad usage, 3 the thread does not exist, 4 the input file
has bad lines (nothing was written).

The read-only commands (``inspect``, ``threads``, ``export``, ``replay``) never
create a database: a SQLite file that is not there exits 1 with the path looked
for. ``export`` and ``chat`` on a thread that belongs to another tenant or user
than ``--tenant``/``--user`` exit 1 and say so (``threads`` shows each thread's owner).
"""

from memorygraph.cli.common import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_NO_THREAD, EXIT_OK, EXIT_USAGE
from memorygraph.cli.main import build_parser, main

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_ERROR",
    "EXIT_NO_THREAD",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]
