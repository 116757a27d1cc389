"""Exception types shared across stages, so no stage imports a later one for an error class.

Every stage raises these downward-importable types; ``harness.run.failures`` turns them into
the error kinds stored in result files.
"""

from __future__ import annotations


class DataError(Exception):
    """A data file (or Hub split) that cannot be used; the message is ``"<file>:<line>: <problem>"``."""


class TaskUnavailable(Exception):
    """A task whose data cannot be had here; the message says why."""


class ModelLoadError(Exception):
    """A model could not be loaded; the message is a one-line reason."""


class RemoteCodeRefused(ModelLoadError):
    """The model wants to run its own Python code and trust_remote_code is off."""


class EncodeError(RuntimeError):
    """Encoding failed (e.g. out of memory even at batch size 1)."""


class NonFiniteEmbeddings(ValueError):
    """An embedding (or a similarity derived from one) is NaN or infinite."""


class WeightsUnavailable(Exception):
    """A model's weights are nowhere to be had (no local folder, not cached, the Hub offline)."""
