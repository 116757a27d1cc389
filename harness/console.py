"""The one way a command makes a rich `Console` for its tables.

On a terminal a table takes the terminal's width. Written to a pipe, a log file or CI, rich would
fold every cell to 80 columns ("sentence-transf / ormers__all-min / ilm-l6-v2"); there a wide
console gives one long line per row instead, which reads and greps better.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

OFF_TERMINAL_WIDTH = 200


def table_console(file: Any = None, **options: Any) -> Console:
    """A Console on `file` (default stdout), `OFF_TERMINAL_WIDTH` wide when not a terminal."""
    out = file if file is not None else sys.stdout
    width = None if getattr(out, "isatty", lambda: False)() else OFF_TERMINAL_WIDTH
    return Console(file=out, width=width, **options)
