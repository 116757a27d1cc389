"""Project configuration: where the data, models, registry, results and cache are, and run defaults.

Each value comes from the first of these that sets it:

1. a command-line option (``--data-dir``, ``--models-dir``, ...),
2. an environment variable (``HARNESS_DATA_DIR``, ``HARNESS_MODELS_DIR``, ...),
3. the configuration file,
4. the built-in default,

and :class:`Config` records, for every value, which one it was. The file is found like other
Python tools find theirs: ``--config FILE`` (or ``$HARNESS_CONFIG``; ``none`` switches the file
off), else the nearest ``harness.toml`` in the working folder or a parent, else the nearest
``pyproject.toml`` with a ``[tool.harness]`` table. Relative paths in the file are relative to
the file's folder; relative paths on the command line or in the environment are relative to the
working folder; ``~`` is expanded in all three. Any problem with the file is a
:class:`ConfigError` whose one-line message names the file and the key.

This module is the only one that reads ``HARNESS_*`` variables: every other module takes the
resolved values as parameters (the command line passes ``Config``'s values down), so no later
read of the environment can undo the order above. ``tests/test_settings_once.py`` keeps it so.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError

CONFIG_FILE = "harness.toml"
PYPROJECT = "pyproject.toml"
ENV_CONFIG = "HARNESS_CONFIG"
NO_CONFIG = "none"  # --config none / HARNESS_CONFIG=none: use no file
ENV_DEBUG = "HARNESS_DEBUG"  # set: an unforeseen error raises its traceback instead of one line
MAX_CONFIG_BYTES = 1_000_000
DTYPES = ("auto", "fp32", "fp16", "bf16")
EXECUTORS = ("local", "ray")

Source = Literal["option", "env", "file", "default"]


class ConfigError(Exception):
    """A configuration problem; the message is one line naming the file (or variable, or option) and key."""


@dataclass(frozen=True)
class Key:
    env: str
    option: str
    default: Any
    is_path: bool = True


def project_registry() -> Path:
    """The registry folder when nothing names one: the project's own ``registry/``."""
    return Path(__file__).resolve().parent.parent / "registry"


KEYS: dict[str, Key] = {
    "data_dir": Key("HARNESS_DATA_DIR", "--data-dir", None),
    "models_dirs": Key("HARNESS_MODELS_DIR", "--models-dir", ()),
    "registry": Key("HARNESS_REGISTRY", "--registry", None),  # None here: the project's registry/
    "results": Key("HARNESS_RESULTS_DIR", "--results", Path("results")),
    "reports": Key("HARNESS_REPORTS_DIR", "--out", Path("reports")),
    "cache_dir": Key("HARNESS_CACHE_DIR", "--cache-dir", None),  # None: the user cache folder
    "dtype": Key("HARNESS_DTYPE", "--dtype", "auto", is_path=False),
    "batch_size": Key("HARNESS_BATCH_SIZE", "--batch-size", "auto", is_path=False),
    "executor": Key("HARNESS_EXECUTOR", "--executor", "local", is_path=False),
    "mteb_results": Key("HARNESS_MTEB_RESULTS", "--mteb-results", None),  # None: no published scores
}


def _usable_path(value: Any) -> bool:
    """A non-empty path without a NUL character (the operating system refuses one)."""
    return isinstance(value, str | Path) and bool(str(value).strip()) and "\0" not in str(value)


class Values(BaseModel):
    """The values one source sets (unset keys stay None); checks each value's form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path | None = None
    models_dirs: tuple[Path, ...] | None = None
    registry: Path | None = None
    results: Path | None = None
    reports: Path | None = None
    cache_dir: Path | None = None
    dtype: str | None = None
    batch_size: int | str | None = None
    executor: str | None = None
    mteb_results: Path | None = None

    @field_validator("data_dir", "registry", "results", "reports", "cache_dir", "mteb_results", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        if value is None or _usable_path(value):
            return value
        raise PydanticCustomError("paths", "must be a path, not {value}", {"value": repr(value)})

    @field_validator("models_dirs", mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        many = list(value) if isinstance(value, list | tuple) else [value]
        if value is None or all(_usable_path(v) for v in many):
            return value if value is None else many
        raise PydanticCustomError(
            "paths", "must be a path or a list of paths, not {value}", {"value": repr(value)}
        )

    @field_validator("dtype", "executor", mode="before")
    @classmethod
    def _choice(cls, value: Any, info: Any) -> Any:
        allowed = DTYPES if info.field_name == "dtype" else EXECUTORS
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lower() in allowed:
            return value.strip().lower()
        raise PydanticCustomError(
            "choice", "must be {allowed}, not {value}", {"allowed": _or(allowed), "value": repr(value)}
        )

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, value: Any) -> Any:
        if value is None:
            return None
        return parse_batch_size(value)


def parse_batch_size(value: Any) -> int | str:
    """``"auto"`` or a positive whole number (ASCII digits only: ``"²"`` is not a number)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        if re.fullmatch(r"[0-9]{1,9}", text) and int(text) > 0:
            return int(text)
    raise PydanticCustomError(
        "batch_size", "must be auto or a positive whole number, not {value}", {"value": repr(value)}
    )


def _or(choices: tuple[str, ...]) -> str:
    return ", ".join(choices[:-1]) + " or " + choices[-1]


class Setting(BaseModel):
    """One resolved value and where it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    value: Any
    source: Source
    origin: str  # the option, the variable, the file, or "built-in"

    def describe(self) -> str:
        return "built-in default" if self.source == "default" else f"from {self.origin}"


class Config(BaseModel):
    """The resolved configuration: every key's value and source, and the file that was read."""

    model_config = ConfigDict(frozen=True)

    file: Path | None
    file_origin: str  # --config, HARNESS_CONFIG, "found from <cwd>", or "none found"
    data_dir: Setting
    models_dirs: Setting
    registry: Setting
    results: Setting
    reports: Setting
    cache_dir: Setting
    dtype: Setting
    batch_size: Setting
    executor: Setting
    mteb_results: Setting

    def settings(self) -> dict[str, Setting]:
        return {key: getattr(self, key) for key in KEYS}

    def existing_dir(self, key: str) -> Path | None:
        """The folder a path key names, or None when unset; a ConfigError when it is not a folder."""
        setting: Setting = getattr(self, key)
        if setting.value is None:
            return None
        path = Path(setting.value)
        if not path.is_dir():
            raise ConfigError(f"{self._where(key)}: {path}: no such folder")
        return path

    def output_dir(self, key: str) -> Path | None:
        """The folder a path key names for writing (created when first written), or None when unset;
        a ConfigError when it, or the nearest existing folder above it, is something else (a file)."""
        setting: Setting = getattr(self, key)
        if setting.value is None:
            return None
        path = Path(setting.value)
        for candidate in (path, *path.absolute().parents):
            if candidate.exists():
                if not candidate.is_dir():
                    problem = "not a folder" if candidate == path else f"{candidate} is not a folder"
                    raise ConfigError(f"{self._where(key)}: {path}: {problem}")
                break
        return path

    def _where(self, key: str) -> str:
        setting: Setting = getattr(self, key)
        return f"{setting.origin}: {key}" if setting.source == "file" else setting.origin

    def as_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, tuple | list):
                return [plain(v) for v in value]
            return str(value) if isinstance(value, Path) else value

        return {
            "file": str(self.file) if self.file else None,
            "file_origin": self.file_origin,
            "settings": {
                key: {"value": plain(s.value), "source": s.source, "origin": s.origin}
                for key, s in self.settings().items()
            },
        }


# ---------------------------------------------------------------- finding and reading the file


def find_config(start: Path) -> Path | None:
    """The nearest harness.toml, or pyproject.toml with [tool.harness], in ``start`` or a parent."""
    start = Path(start).absolute()
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if os.path.lexists(candidate):  # unreadable (a FIFO, a dangling link, a folder) stops the command
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _mentions_harness(pyproject):
            return pyproject
    return None


def _mentions_harness(pyproject: Path) -> bool:
    """Whether a pyproject.toml has a [tool.harness] table (one that cannot be parsed but says
    ``tool.harness`` counts, so its error is reported rather than the file silently skipped)."""
    try:
        text = _read_text(pyproject)
    except ConfigError:
        return False
    try:
        return isinstance(_tool_table(tomllib.loads(text)).get("harness"), dict)
    except tomllib.TOMLDecodeError:
        return "tool.harness" in text


def _tool_table(data: dict[str, Any]) -> dict[str, Any]:
    """pyproject's ``[tool]`` table; anything else there (``tool = "x"``) holds no harness table."""
    tool = data.get("tool")
    return tool if isinstance(tool, dict) else {}


def _read_text(path: Path) -> str:
    try:
        if not path.is_file():
            if os.path.islink(path) and not path.exists():
                problem = "a link to nothing (dangling, or a loop)"
            else:
                problem = "not a regular file (a folder, FIFO or device)" if path.exists() else "no such file"
            raise ConfigError(f"{path}: {problem}; not read")
        with path.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes; not read")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark (Windows editors write one) is no TOML
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def read_config(path: Path) -> dict[str, Any]:
    """The harness table of a config file (the whole file, or pyproject's [tool.harness])."""
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {_toml_problem(text, exc)}") from None
    if path.name == PYPROJECT:
        table = _tool_table(data).get("harness")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: tool.harness: no [tool.harness] table")
        return table
    return data


def _toml_problem(text: str, exc: tomllib.TOMLDecodeError) -> str:
    """``<key>: invalid TOML: <why> (line N)``; the key is the one on the offending line, if any."""
    message = " ".join(str(exc).split())
    at = re.search(r"\(at line (\d+), column \d+\)", message)
    if at is None:
        return f"invalid TOML: {message}"
    lineno = int(at.group(1))
    problem = message[: at.start()].strip()
    lines = text.splitlines()
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    key = re.match(r"\s*([A-Za-z0-9_.\-\"']+)\s*=", line)
    where = f"{key.group(1).strip(chr(34) + chr(39))}: " if key else ""
    return f"{where}invalid TOML at line {lineno}: {problem}"


# ---------------------------------------------------------------- resolving


def resolve(
    options: Mapping[str, Any] | None = None,
    *,
    config_file: Path | str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve every key: option > environment > file > built-in default.

    ``options`` maps keys to command-line values (None or empty: not given). Raises ConfigError.
    """
    env = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else Path(cwd)
    from_options = option_values(options or {})  # the user's own typing is checked first
    from_env = _env_values(env)
    path, file_origin = _config_path(config_file, env, cwd)
    from_file = _file_values(path) if path is not None else Values()

    resolved: dict[str, Setting] = {}
    for key, spec in KEYS.items():
        for values, source, origin in (
            (from_options, "option", spec.option),
            (from_env, "env", spec.env),
            (from_file, "file", str(path)),
        ):
            value = getattr(values, key)
            if value is not None:
                resolved[key] = Setting(value=value, source=source, origin=origin)
                break
        else:
            default = project_registry() if key == "registry" else spec.default
            resolved[key] = Setting(value=default, source="default", origin="built-in")
    return Config(file=path, file_origin=file_origin, **resolved)


def _config_path(option: Path | str | None, env: Mapping[str, str], cwd: Path) -> tuple[Path | None, str]:
    named, origin = (option, "--config") if option not in (None, "") else (env.get(ENV_CONFIG), ENV_CONFIG)
    if named not in (None, ""):
        if str(named).strip().lower() == NO_CONFIG:
            return None, f"switched off ({origin} {NO_CONFIG})"
        path = Path(expand_user(str(named), origin))
        path = path if path.is_absolute() else cwd / path
        if not path.exists():
            raise ConfigError(f"{path}: config file not found ({origin})")
        return path, origin
    found = find_config(cwd)
    return found, (f"found from {cwd}" if found else "none found")


def _file_values(path: Path) -> Values:
    table = read_config(path)
    values = _validate(table, lambda key: f"{path}: {key}")
    return _each_path(values, lambda key, p: _relative_to(path.parent, p, f"{path}: {key}"))


def _each_path(values: Values, fix: Callable[[str, Path], Path]) -> Values:
    """`values` with `fix(key, path)` applied to every path it sets."""
    updates: dict[str, Any] = {}
    for key, spec in KEYS.items():
        value = getattr(values, key)
        if spec.is_path and value is not None:
            updates[key] = tuple(fix(key, p) for p in value) if isinstance(value, tuple) else fix(key, value)
    return values.model_copy(update=updates)


def _relative_to(folder: Path, path: Path, where: str) -> Path:
    path = Path(expand_user(str(path), where))
    return path if path.is_absolute() else Path(os.path.normpath(folder / path))


def expand_user(text: str, where: str) -> str:
    """``~`` and ``~user`` expanded; a ConfigError naming `where` when that user has no home folder
    (``Path.expanduser`` would raise a bare RuntimeError)."""
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        user = expanded.split("/", 1)[0]
        raise ConfigError(f"{where}: {text!r}: {user} names no user with a home folder here")
    return expanded


def _env_values(env: Mapping[str, str]) -> Values:
    raw: dict[str, Any] = {}
    for key, spec in KEYS.items():
        text = env.get(spec.env, "").strip()
        if not text:
            continue
        if key == "models_dirs":
            raw[key] = [expand_user(p, spec.env) for p in text.split(os.pathsep) if p.strip()]
        else:
            raw[key] = expand_user(text, spec.env) if spec.is_path else text
    return _validate(raw, lambda key: KEYS[key].env if key in KEYS else key)


def option_values(options: Mapping[str, Any]) -> Values:
    """The values given on the command line, checked (a ConfigError names the option)."""
    unknown = set(options) - set(KEYS)
    if unknown:
        raise TypeError(f"not configuration keys: {', '.join(sorted(unknown))}")
    raw = {key: value for key, value in options.items() if value not in (None, "", [], ())}
    values = _validate(raw, lambda key: KEYS[key].option)
    # ``--cache-dir=~/c`` reaches us unexpanded (no shell expands ``~`` after ``=``): expanded here,
    # once, so the folder checked is the folder used
    return _each_path(values, lambda key, p: Path(expand_user(str(p), KEYS[key].option)))


def _validate(raw: Mapping[str, Any], where: Any) -> Values:
    try:
        return Values.model_validate(dict(raw))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else "?"
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, list(KEYS), n=1)
            hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(KEYS)}"
            raise ConfigError(f"{where(key)}: unknown key; {hint}") from None
        message = error["msg"]
        if error["type"] not in ("choice", "batch_size", "paths"):
            message = f"{message} (got {error.get('input')!r})"
        raise ConfigError(f"{where(key)}: {message}") from None


def show_tracebacks(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``HARNESS_DEBUG`` asks for the traceback of an unforeseen error (not a setting: no
    option or file sets it)."""
    env = os.environ if environ is None else environ
    return bool(env.get(ENV_DEBUG, "").strip())


# ---------------------------------------------------------------- other command-line values

BOOTSTRAP_RANGE = (100, 1_000_000)
_DEVICE_RE = re.compile(r"cpu|cuda(?::[0-9]{1,3})?")


def check_bootstrap(value: int) -> int:
    low, high = BOOTSTRAP_RANGE
    if not low <= value <= high:
        raise ConfigError(
            f"--bootstrap: must be from {low} to {high} resamples, not {value} "
            "(fewer give no usable 95% interval)"
        )
    return value


def check_device(value: str | None, *, local: bool = True) -> str | None:
    """``cpu``, ``cuda`` or ``cuda:N``; with ``local``, a CUDA device must exist on this machine."""
    if value is None:
        return None
    device = value.strip().lower()
    if not _DEVICE_RE.fullmatch(device):
        raise ConfigError(f"--device: must be cpu, cuda or cuda:N, not {value!r}")
    if local and device.startswith("cuda"):
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            found = f"{count} CUDA device(s)" if count else "no CUDA GPU"
            raise ConfigError(f"--device {value}: this machine has {found}")
    return device


def check_languages(values: list[str] | None, flag: str = "--lang") -> list[str]:
    """Language options as the harness's language codes (``deu``, ``de-CH``, ``German`` -> ``de``)."""
    from harness.languages import normalize_language

    codes: list[str] = []
    for value in values or []:
        code = normalize_language(value)
        if code is None:
            raise ConfigError(
                f"{flag} {value!r}: not a language (use a code such as de, a tag such as de-CH, or a name)"
            )
        if code not in codes:
            codes.append(code)
    return codes
