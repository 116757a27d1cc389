"""A model's card and small configuration files at one commit, from the Hub or the Hugging Face cache.

`fetch_model_files(model_id, revision, offline=...)` resolves a revision (a branch, a tag or a
commit; default ``main``) to a commit and reads the card and the configuration files that
describe the model at that commit (never its weights), all through ``huggingface_hub``:

* online: ``HfApi.model_info(revision=...)`` gives the commit and the file list, and
  ``hf_hub_download(revision=<commit>)`` fetches each file into a scratch folder (not the
  Hugging Face cache, where a snapshot without weights would pass for a downloaded model);
* offline (``HF_HUB_OFFLINE``, or the Hub unreachable) or when the Hub cannot be reached: the
  Hugging Face cache (``scan_cache_dir``), whose ``refs/<branch>`` names the commit.

Every failure is a :class:`HubFilesError` with a one-line message naming the model.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.card import MAX_CARD_BYTES, classify_model_id
from harness.model_files import MAX_CONFIG_BYTES, UnreadableFile, read_bytes

# What `harness add` copies: the card and the files that say what the model is (never weights;
# tokenizer.json and vocabularies can be megabytes and say nothing the card is checked against).
CARD_FILE = "README.md"
CONFIG_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
MAX_ID_CHARS = 96
_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{7,40}$")


class HubFilesError(Exception):
    """A model id, revision or fetch problem; the message is one line."""


@dataclass(frozen=True)
class HubTarget:
    """``ORG/NAME[@REVISION]`` as the user wrote it, checked."""

    model_id: str
    revision: str | None


@dataclass(frozen=True)
class ModelFiles:
    """The card and configuration files of one model at one commit."""

    model_id: str  # the Hub's spelling where it was learnt (the cache folder's, the Hub's answer)
    commit: str
    files: dict[str, bytes]  # relative name -> content; README.md absent when the model has no card
    source: str  # where they came from, in words
    notes: tuple[str, ...] = ()


def _control(text: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in text)


def parse_hub_target(text: str) -> HubTarget:
    """``ORG/NAME`` or ``ORG/NAME@REVISION``; a hostile or malformed id is refused before any download."""
    raw = str(text)
    shown = ascii(raw[:60])
    if _control(raw):
        raise HubFilesError(f"{shown}: control characters are not allowed in a model id")
    model_id, _, revision = raw.strip().partition("@")
    if len(model_id) > MAX_ID_CHARS:
        raise HubFilesError(f"{shown}...: a model id has at most {MAX_ID_CHARS} characters")
    if ".." in model_id or "\\" in model_id or model_id.startswith(("/", "~")) or model_id.count("/") != 1:
        raise HubFilesError(f"{shown}: not a Hub model id (ORG/NAME): path characters are not allowed")
    verdict, why = classify_model_id(model_id)
    if verdict != "ok":
        raise HubFilesError(f"{shown}: not a Hub model id (ORG/NAME): {why or verdict}")
    if revision and not is_revision(revision):
        raise HubFilesError(f"{shown}: {revision[:40]!a} is not a revision (a branch, tag or commit)")
    return HubTarget(model_id, revision or None)


def is_revision(text: object) -> bool:
    """A branch, tag or commit name that is safe to write down and to pass to the Hub."""
    return isinstance(text, str) and bool(_REVISION_RE.match(text)) and ".." not in text


def fetch_model_files(target: HubTarget, *, offline: str | None, cache_dir: Path | None = None) -> ModelFiles:
    """The card and config files at the target's revision: from the Hub, else the Hugging Face cache.

    `offline` is why the Hub is not to be asked (None: ask it). When the Hub cannot be reached the
    cache is read; a model the cache does not hold is then an error that says the Hub is needed.
    """
    if offline is None:
        try:
            return _from_hub(target)
        except _Unreachable as exc:
            offline = str(exc)
    return _from_cache(target, offline, cache_dir)


class _Unreachable(Exception):
    """The Hub could not be asked (network, offline mode): the cache may still have the model."""


def _from_hub(target: HubTarget) -> ModelFiles:
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub import errors as hf

    def refused(exc: Exception) -> HubFilesError:
        at = f" at revision {target.revision!r}" if target.revision else ""
        if isinstance(exc, hf.GatedRepoError):
            why = "is gated: accept its terms on the Hub and log in (`hf auth login`)"
        elif isinstance(exc, hf.RepositoryNotFoundError):
            why = "is not on the Hub (or is private: log in with `hf auth login`)"
        elif isinstance(exc, hf.RevisionNotFoundError):
            why = f"has no revision {target.revision!r} on the Hub"
        else:
            why = f"could not be read from the Hub{at} ({type(exc).__name__}: {_one_line(exc)})"
        return HubFilesError(f"{target.model_id} {why}")

    try:
        info = HfApi().model_info(target.model_id, revision=target.revision)
    except hf.OfflineModeIsEnabled as exc:
        raise _Unreachable("huggingface_hub is in offline mode") from exc
    except (hf.RepositoryNotFoundError, hf.RevisionNotFoundError) as exc:
        raise refused(exc) from None
    except hf.HfHubHTTPError as exc:
        raise refused(exc) from None
    except (OSError, TimeoutError) as exc:
        raise _Unreachable(f"the Hub is unreachable ({type(exc).__name__})") from exc
    except Exception as exc:  # httpx's transport errors and the like: the network, not the model
        if type(exc).__module__.startswith(("httpx", "httpcore", "requests", "urllib3")):
            raise _Unreachable(f"the Hub is unreachable ({type(exc).__name__})") from exc
        raise refused(exc) from None
    commit = getattr(info, "sha", None)
    if not isinstance(commit, str) or not _COMMIT_RE.match(commit):
        raise HubFilesError(f"{target.model_id}: the Hub gave no commit for {target.revision or 'main'}")
    listed = {getattr(s, "rfilename", None) for s in (getattr(info, "siblings", None) or [])}
    answered = getattr(info, "id", None)  # the Hub's spelling, taken only when it names the same model
    same = isinstance(answered, str) and answered.lower() == target.model_id.lower()
    model_id = answered if same else target.model_id
    files: dict[str, bytes] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="harness-add-") as scratch:
        for name in (CARD_FILE, *CONFIG_FILES):
            if name not in listed:
                continue
            try:
                path = hf_hub_download(target.model_id, name, revision=commit, local_dir=scratch)
            except Exception as exc:
                raise refused(exc) from None
            _keep(files, notes, name, Path(path))
    return ModelFiles(model_id, commit, files, f"the Hub at commit {commit}", tuple(notes))


def _keep(files: dict[str, bytes], notes: list[str], name: str, path: Path) -> None:
    limit = MAX_CARD_BYTES if name == CARD_FILE else MAX_CONFIG_BYTES
    try:
        files[name] = read_bytes(path, limit)  # a regular file within the limit, never a FIFO
    except UnreadableFile as exc:
        notes.append(f"{name}: {exc.reason}; not copied")
    except OSError as exc:
        notes.append(f"{name}: cannot read it ({exc.strerror or exc}); not copied")


def _from_cache(target: HubTarget, offline: str, cache_dir: Path | None) -> ModelFiles:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    needed = f"{target.model_id} is not in the Hugging Face cache and {offline}: `harness add` needs the Hub"
    try:
        cache = scan_cache_dir(cache_dir)
    except CacheNotFound:
        raise HubFilesError(needed) from None
    except OSError as exc:
        raise HubFilesError(f"{needed} (the cache could not be read: {exc.strerror or exc})") from None
    wanted = target.model_id.lower()
    repo = next((r for r in cache.repos if r.repo_type == "model" and r.repo_id.lower() == wanted), None)
    if repo is None:
        raise HubFilesError(needed)
    revision = _cached_revision(repo.revisions, target.revision or "main")
    if revision is None:
        held = ", ".join(sorted(r.commit_hash[:12] for r in repo.revisions)) or "none"
        raise HubFilesError(
            f"{target.model_id}: the Hugging Face cache has no revision {target.revision or 'main'!r} "
            f"(it holds {held}) and {offline}: `harness add` needs the Hub"
        )
    files: dict[str, bytes] = {}
    notes: list[str] = []
    for name in (CARD_FILE, *CONFIG_FILES):
        path = revision.snapshot_path / name
        if path.exists():
            _keep(files, notes, name, path)
    if not files:
        raise HubFilesError(
            f"{target.model_id}: cached commit {revision.commit_hash[:12]} holds no card or config"
        )
    source = f"the Hugging Face cache at commit {revision.commit_hash} ({offline})"
    return ModelFiles(repo.repo_id, revision.commit_hash, files, source, tuple(notes))


def _cached_revision(revisions: Any, wanted: str) -> Any | None:
    """The cached revision a branch/tag (its ref) or a commit (full or a prefix of 7+) names."""
    revisions = sorted(revisions, key=lambda r: r.commit_hash)
    for rev in revisions:
        if wanted in rev.refs:
            return rev
    if _COMMIT_RE.match(wanted):
        hits = [r for r in revisions if r.commit_hash.startswith(wanted)]
        if len(hits) == 1:
            return hits[0]
    return None


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())[:200]
