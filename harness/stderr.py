"""What a command writes to stderr besides its own messages: as little as possible, as ``harness:`` lines.

While a command runs (:func:`command_stderr`):

- libraries' warnings and log records print as ``harness: <message>`` lines, each distinct one
  once (a warning repeated per model or per batch is said once);
- when stderr is not a terminal (a log file, a pipe, CI), no progress bars at all: tqdm, the
  Hugging Face Hub's and datasets' bars are switched off through their environment variables,
  which they read when first imported (commands import them lazily, after this), and through
  their switches when they were imported already (in-process callers such as tests).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TextIO

# What must not reach a terminal raw from an untrusted name or path: C0/C1 control characters
# (ESC moves the cursor, a newline splits a line), line/paragraph separators, bidirectional
# overrides (they reorder what is shown) and lone surrogates (undecodable bytes of a file name).
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
UNDECODABLE = re.compile("[\ud800-\udfff]")
NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

QUIET_ENV = {"TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}
NO_PROGRESS_BARS_ENV = ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS")


class OnceFilter(logging.Filter):
    """Lets each distinct (logger, level, message) through once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class WarningPrinter:
    """A ``warnings.showwarning`` that prints each distinct warning once, as one ``harness:`` line.

    The filters still decide which warnings are shown; this only de-duplicates (the filters'
    own once-per-location memory is reset whenever any code changes the filters).
    """

    def __init__(self) -> None:
        self.seen: set[tuple[type[Warning], str]] = set()

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = printable(" ".join(str(message).split()))
        if (category, text) in self.seen:
            return
        self.seen.add((category, text))
        kind = "" if category is UserWarning else f"{category.__name__}: "
        print(f"harness: {kind}{text}", file=file or sys.stderr)


def printable(text: object) -> str:
    """`text` safe to print on one line: every unsafe character (see UNSAFE) escaped visibly, as
    Python writes it (``\\x1b``, ``\\n``, ``\\u202e``, ``\\udcff``); the rest unchanged. The result is
    valid UTF-8 text, whatever bytes a file name held."""
    return UNSAFE.sub(_escape, str(text))


def decodable(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings) with lone surrogates in its strings, the undecodable
    bytes of a file name, escaped as `printable` does: it then encodes as valid UTF-8."""
    if isinstance(value, str):
        return UNDECODABLE.sub(_escape, value)
    if isinstance(value, dict):
        return {decodable(k): decodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [decodable(v) for v in value]
    return value


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return NAMED_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class HarnessFormatter(logging.Formatter):
    """A log record as one ``harness: [PREFIX]<message>`` line, its message made printable."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and not message:
            message = str(record.exc_info[1])
        return f"harness: {self.prefix}{printable(' '.join(message.split()))}"


def route_logger(name: str, prefix: str = "") -> None:
    """Make a library's own logger, one that prints through its own handlers (Ray's ``ray``), print
    ``harness:`` lines: each of its handlers gets HarnessFormatter, and repeats are said once."""
    once = OnceFilter()
    for handler in logging.getLogger(name).handlers:
        handler.setFormatter(HarnessFormatter(prefix))
        if not any(isinstance(f, OnceFilter) for f in handler.filters):
            handler.addFilter(once)


def _bars_off_in_loaded_libraries() -> list[Callable[[], Any]]:
    """Switch off the bars of libraries imported before the command started (their environment
    variables were read then); returns the calls that switch them back on."""
    undo: list[Callable[[], Any]] = []
    hub = sys.modules.get("huggingface_hub.utils")
    if hub is not None and not hub.are_progress_bars_disabled():
        hub.disable_progress_bars()  # transformers imported later reads this too
        undo.append(hub.enable_progress_bars)
    hf_logging = sys.modules.get("transformers.utils.logging")
    if hf_logging is not None and hf_logging.is_progress_bar_enabled():
        hf_logging.disable_progress_bar()
        undo.append(hf_logging.enable_progress_bar)
    return undo


@contextlib.contextmanager
def command_stderr(stream: Any = None) -> Iterator[None]:
    """The stderr rules above, for the duration of one command (restored afterwards)."""
    stream = sys.stderr if stream is None else stream
    for var, value in QUIET_ENV.items():
        os.environ.setdefault(var, value)
    undo: list[Callable[[], Any]] = []
    if not stream.isatty():
        for var in NO_PROGRESS_BARS_ENV:
            os.environ.setdefault(var, "1")
        undo = _bars_off_in_loaded_libraries()
    once = OnceFilter()
    # Records no handler takes (no logging configured: the command line) go to logging.lastResort.
    last_resort = logging.lastResort
    saved_formatter = last_resort.formatter if last_resort is not None else None
    if last_resort is not None:
        last_resort.setFormatter(HarnessFormatter())
        last_resort.addFilter(once)
    with warnings.catch_warnings():
        warnings.showwarning = WarningPrinter()
        try:
            yield
        finally:
            for switch_on in undo:
                switch_on()
            if last_resort is not None:
                last_resort.removeFilter(once)
                last_resort.setFormatter(saved_formatter)  # type: ignore[arg-type]


def say(message: str, *, warning: bool = False) -> None:
    """One ``harness:`` line on stderr: a command's own error, or a warning (the command goes on)."""
    print(f"harness: {'warning: ' if warning else ''}{printable(message)}", file=sys.stderr)
