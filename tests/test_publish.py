"""``lem publish``: a dataset to a (fake, local) Hugging Face Hub with huggingface_hub.

The fake Hub (:mod:`tests.fake_hub`) serves only the endpoints the client should call;
a second fake stands in as ``HF_ENDPOINT`` (huggingface_hub's default endpoint) and must
see nothing, so neither an ignored ``--endpoint`` nor a stray telemetry call can reach
huggingface.co."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lem.distill.dataset import SPLITS, DatasetRow, write_dataset
from lem.errors import InputError
from tests.fake_hub import FakeHub

pytest.importorskip("huggingface_hub")
pytest.importorskip("pyarrow")

TOKEN = "hf_fakeTOKEN0123456789abcdefSECRET"
FILES = [
    "README.md",
    "manifest.json",
    "lineage.jsonl",
    "data/train.parquet",
    "data/valid.parquet",
    "data/test.parquet",
]
DEF_HASH = "ab" * 32


def _dataset(tmp_path: Path, n: int = 12) -> Path:
    rows = []
    splits = {}
    for i in range(n):
        group = f"p{i:02d}"
        rows.append(
            DatasetRow(
                messages=[
                    {"role": "user", "content": f"Question {i}: is honesty owed to strangers?"},
                    {"role": "assistant", "content": f"Answer {i}. Yes — ünïcode and all."},
                ],
                group=group,
                domain="Ethics" if i % 2 else "Everyday",
                lineage={
                    "probe_id": group,
                    "domain": "Ethics" if i % 2 else "Everyday",
                    "item_key": f"{i:064x}",
                    "run_id": "run0123456789abc",
                    "model": "hf:/models/base",
                    "condition": "sandwich:lek+lek-text",
                    "score": 10.5 + i,
                    "scorer": {"id": "lek-v2", "version": "2.0", "definition_hash": DEF_HASH},
                },
            )
        )
        splits[group] = "valid" if i % 6 == 1 else ("test" if i % 6 == 2 else "train")
    manifest = {
        "kind": "distill",
        "name": "honesty-demo",
        "lem_version": "0.1.0",
        "source": {
            "run_id": "run0123456789abc",
            "model": "hf:/models/base",
            "condition": "sandwich:lek+lek-text",
        },
        "selection": {
            "scorer": {"id": "lek-v2", "version": "2.0", "definition_hash": DEF_HASH},
            "keep": "threshold",
            "min_score": 12.0,
            "per_prompt": 2,
        },
        "contamination": {
            "method": "semantic",
            "sets": [{"source": "eval.jsonl", "probes": 40, "overlaps": []}],
            "allowed": False,
        },
    }
    out = tmp_path / "ds"
    write_dataset(out, rows, splits=splits, manifest=manifest)
    return out


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return _dataset(tmp_path)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(TOKEN) as h:
        yield h


@pytest.fixture
def decoy() -> Iterator[FakeHub]:
    """Stands in for huggingface.co as HF_ENDPOINT: must receive nothing."""
    with FakeHub(TOKEN) as h:
        yield h


def _env(tmp_path: Path, decoy: FakeHub, *, token: str | None = TOKEN) -> dict[str, str]:
    drop = ("HF_", "HUGGING", "TRANSFORMERS_OFFLINE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}
    env.update(
        HF_HOME=str(tmp_path / "hf-home"),
        HF_ENDPOINT=decoy.url,
        NO_PROXY="127.0.0.1,localhost",
        COLUMNS="200",
    )
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def _lem(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _no_token_anywhere(tmp_path: Path, *outputs: str) -> None:
    for text in outputs:
        assert TOKEN not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def _rows(folder: Path, split: str) -> list[tuple[str, str]]:
    out = []
    for line in (folder / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        out.append((messages[0]["content"], messages[-1]["content"]))
    return out


def _front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert isinstance(meta, dict)
    return meta


# -- dry run ---------------------------------------------------------------------------


def test_dry_run_lists_the_files_and_makes_no_request(
    tmp_path: Path, dataset: Path, hub: FakeHub, decoy: FakeHub
) -> None:
    env = _env(tmp_path, decoy, token=None)
    res = _lem(
        ["publish", str(dataset), "--repo", "alice/honesty", "--endpoint", hub.url, "--dry-run"],
        env,
    )
    assert res.returncode == 0, res.stderr
    listed = [line.split()[0] for line in res.stdout.splitlines() if line.startswith("  ")]
    assert listed == FILES
    assert "private dataset repo alice/honesty" in res.stdout and hub.url in res.stdout
    assert "nothing was uploaded" in res.stdout
    assert hub.requests == [] and decoy.requests == []

    from lem.publish import publish_dataset

    plan = publish_dataset(dataset, "alice/honesty", dry_run=True, endpoint=hub.url)
    assert [f.path for f in plan.files] == FILES and all(f.size > 0 for f in plan.files)
    assert plan.dry_run and plan.private and plan.endpoint == hub.url
    assert plan.commit_oid is None and plan.url is None
    assert not publish_dataset(dataset, "alice/honesty", dry_run=True, public=True).private
    sizes = {line.split()[0]: int(line.split()[1]) for line in res.stdout.splitlines()[1:-1]}
    assert sizes["manifest.json"] == (dataset / "manifest.json").stat().st_size
    assert hub.requests == [] and decoy.requests == []


# -- real publish to the fake hub ------------------------------------------------------


def test_publish_private_by_default_uploads_everything_in_one_commit(
    tmp_path: Path, dataset: Path, hub: FakeHub, decoy: FakeHub
) -> None:
    import pyarrow.parquet as pq

    env = _env(tmp_path, decoy)
    res = _lem(["publish", str(dataset), "--repo", "alice/honesty", "--endpoint", hub.url], env)
    assert res.returncode == 0, res.stderr
    assert hub.unknown == [] and hub.unexpected == [] and decoy.requests == []
    assert hub.endpoints() == [
        "POST create",
        "GET info",
        "POST validate",
        "POST preupload",
        "POST commit",
    ]
    assert set(hub.tokens_seen) == {TOKEN}
    assert hub.create_payloads == [
        {"name": "honesty", "organization": "alice", "visibility": "private", "type": "dataset"}
    ]
    repo = hub.repos["alice/honesty"]
    assert repo.type == "dataset" and repo.private
    assert "(private)" in res.stdout and repo.commits[0]["oid"] in res.stdout
    assert len(repo.commits) == 1 and repo.commits[0]["revision"] == "main"
    manifest = json.loads((dataset / "manifest.json").read_text())
    dataset_id = manifest["dataset_id"]
    assert dataset_id in repo.commits[0]["summary"]
    assert list(repo.commits[0]["files"]) == FILES
    assert sorted(f["path"] for f in hub.preuploaded) == sorted(FILES)
    assert repo.files["manifest.json"] == (dataset / "manifest.json").read_bytes()
    assert repo.files["lineage.jsonl"] == (dataset / "lineage.jsonl").read_bytes()
    for split in SPLITS:
        table = pq.read_table(io.BytesIO(repo.files[f"data/{split}.parquet"]))
        prompts, responses = table.column("prompt"), table.column("response")
        got = list(zip(prompts.to_pylist(), responses.to_pylist(), strict=True))
        assert got == _rows(dataset, split) and got
        assert set(table.column("dataset_id").to_pylist()) == {dataset_id}
        assert set(table.column("scorer").to_pylist()) == {"lek-v2"}

    card = repo.files["README.md"].decode()
    assert hub.validated == [card]
    meta = _front_matter(card)
    assert meta["license"] == "other"
    assert meta["task_categories"] == ["text-generation"]
    assert meta["tags"] == ["lem", "kernel-alignment"]
    assert meta["configs"] == [
        {
            "config_name": "default",
            "data_files": [{"split": s, "path": f"data/{s}.parquet"} for s in SPLITS],
        }
    ]
    for text in (
        dataset_id,
        "lek-v2",
        DEF_HASH,
        "hf:/models/base",
        "sandwich:lek+lek-text",
        "train 8, valid 2, test 2",
        "keep threshold, threshold 12.0, top-k 2 per prompt",
        "no overlap",
        "lem 0.1.0",
        'load_dataset("alice/honesty")',
    ):
        assert text in card, text
    _no_token_anywhere(tmp_path, res.stdout, res.stderr)
    for content in repo.files.values():
        assert TOKEN.encode() not in content

    # The uploaded files, laid out as a repo folder, load with `datasets` by the card.
    datasets = pytest.importorskip("datasets")
    local = tmp_path / "clone"
    for name, content in repo.files.items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(content)
    loaded = datasets.load_dataset(str(local), cache_dir=str(tmp_path / "hf-cache"))
    assert {s: loaded[s].num_rows for s in SPLITS} == {"train": 8, "valid": 2, "test": 2}
    assert loaded["train"][0]["prompt"] == _rows(dataset, "train")[0][0]


def test_public_flag_creates_a_public_repo_and_existing_visibility_is_kept(
    tmp_path: Path, dataset: Path, hub: FakeHub, decoy: FakeHub
) -> None:
    env = {**_env(tmp_path, decoy), "HF_TOKEN": TOKEN + "\n"}  # pasted with a newline
    res = _lem(
        ["publish", str(dataset), "--repo", "bob/open", "--endpoint", hub.url, "--public"],
        env,
    )
    assert res.returncode == 0, res.stderr
    assert hub.create_payloads[0]["visibility"] == "public"
    assert not hub.repos["bob/open"].private and hub.repos["bob/open"].type == "dataset"
    assert "(public)" in res.stdout

    # Publishing again without --public: the repo exists (409), stays public, and says so.
    again = _lem(
        ["publish", str(dataset), "--repo", "bob/open", "--endpoint", hub.url, "--private"],
        env,
    )
    assert again.returncode == 0, again.stderr
    assert hub.create_payloads[1]["visibility"] == "private"
    assert not hub.repos["bob/open"].private and len(hub.repos["bob/open"].commits) == 2
    assert "already existed and is public" in again.stderr and "(public)" in again.stdout
    assert hub.unknown == [] and decoy.requests == []
    _no_token_anywhere(tmp_path, res.stdout, res.stderr, again.stdout, again.stderr)


# -- errors ----------------------------------------------------------------------------


def test_missing_token_is_one_line_naming_the_variable(
    tmp_path: Path, dataset: Path, hub: FakeHub, decoy: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = _lem(
        ["publish", str(dataset), "--repo", "alice/honesty", "--endpoint", hub.url],
        _env(tmp_path, decoy, token=None),
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lem: error:") and "HF_TOKEN" in lines[0]
    assert hub.requests == [] and decoy.requests == []

    from lem.publish import publish_dataset

    with pytest.raises(InputError, match="LEM_TEST_NO_SUCH_TOKEN"):
        publish_dataset(dataset, "alice/honesty", token_env="LEM_TEST_NO_SUCH_TOKEN")
    monkeypatch.setenv("LEM_TEST_BLANK_TOKEN", " \n")
    with pytest.raises(InputError, match="LEM_TEST_BLANK_TOKEN is not set"):
        publish_dataset(dataset, "alice/honesty", token_env="LEM_TEST_BLANK_TOKEN")


def test_unreachable_hub_is_one_line_without_the_token(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from huggingface_hub import constants

    from lem.errors import LemError
    from lem.publish import publish_dataset

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("LEM_TEST_HUB_TOKEN", TOKEN)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LemError) as err:
        publish_dataset(
            dataset, "alice/x", token_env="LEM_TEST_HUB_TOKEN", endpoint=f"http://127.0.0.1:{port}"
        )
    assert f"127.0.0.1:{port}" in str(err.value) and "create dataset repo" in str(err.value)
    assert TOKEN not in str(err.value) and "\n" not in str(err.value)


def test_hub_refusing_the_repo_is_one_line_without_the_token(
    tmp_path: Path, dataset: Path, decoy: FakeHub
) -> None:
    refusal = f"You don't have the rights to create a dataset under 'alice' (token {TOKEN})"
    with FakeHub(TOKEN, fail={"create": (403, refusal)}) as hub:
        res = _lem(
            ["publish", str(dataset), "--repo", "alice/honesty", "--endpoint", hub.url],
            _env(tmp_path, decoy),
        )
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lem: error:"), res.stderr
    assert "403" in lines[0] and "alice/honesty" in lines[0] and "***" in lines[0]
    assert hub.repos == {} and hub.unknown == [] and decoy.requests == []
    # exist_ok: on 403 the client checks whether the repo is there already (it is not)
    assert hub.endpoints() == ["POST create", "GET info"]
    _no_token_anywhere(tmp_path, res.stdout, res.stderr)


def test_empty_splits_are_left_out_and_the_rest_loads(
    tmp_path: Path, hub: FakeHub, decoy: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, through the API: a dataset whose valid and test splits are empty
    publishes train only (an empty Parquet file breaks `datasets.load_dataset`)."""
    from huggingface_hub import constants

    from lem.publish import publish_dataset

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest's offline mode
    monkeypatch.setattr(constants, "ENDPOINT", decoy.url)
    monkeypatch.setenv("LEM_TEST_HUB_TOKEN", TOKEN)
    rows = [
        DatasetRow(
            messages=[
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i}"},
            ],
            group=f"g{i}",
            domain="d",
        )
        for i in range(3)
    ]
    folder = tmp_path / "small"
    write_dataset(folder, rows, splits={f"g{i}": "train" for i in range(3)}, manifest={})
    done = publish_dataset(
        folder, "dan/small", token_env="LEM_TEST_HUB_TOKEN", endpoint=hub.url, public=True
    )
    assert not done.private and not done.dry_run and done.commit_oid
    assert done.url == f"{hub.url}/datasets/dan/small"
    paths = ["README.md", "manifest.json", "lineage.jsonl", "data/train.parquet"]
    assert [f.path for f in done.files] == paths
    repo = hub.repos["dan/small"]
    assert list(repo.files) == paths and not repo.private
    card = repo.files["README.md"].decode()
    assert _front_matter(card)["configs"][0]["data_files"] == [
        {"split": "train", "path": "data/train.parquet"}
    ]
    assert "train 3, valid 0, test 0" in card
    assert hub.unknown == [] and decoy.requests == []
    datasets = pytest.importorskip("datasets")
    for name, content in repo.files.items():
        (tmp_path / "clone" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "clone" / name).write_bytes(content)
    loaded = datasets.load_dataset(str(tmp_path / "clone"), cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == ["train"] and loaded["train"]["response"] == ["a0", "a1", "a2"]


def test_bad_repo_id_and_dataset_folder(tmp_path: Path, dataset: Path) -> None:
    from lem.publish import publish_dataset

    for bad in ("honesty", "a/b/c", "alice/", "alice/../x"):
        with pytest.raises(InputError, match="USER/NAME"):
            publish_dataset(dataset, bad, dry_run=True)
    with pytest.raises(InputError, match=r"manifest\.json"):
        publish_dataset(tmp_path / "nothing", "alice/x", dry_run=True)


def test_card_of_a_converted_conversation_dataset_degrades_gracefully() -> None:
    from lem.publish import dataset_card

    manifest = {
        "format": "lem-dataset/1",
        "dataset_id": "cd" * 32,
        "kind": "conv",
        "name": "talks",
        "source": {"file": "talks.jsonl", "sha256": "ef" * 32, "conversations": 5},
        "system": "keep",
        "files": {s: {"rows": n} for s, n in zip(SPLITS, (3, 1, 1), strict=True)},
    }
    card = dataset_card(manifest, "carol/talks", license="cc-by-4.0")
    meta = _front_matter(card)
    assert meta["license"] == "cc-by-4.0" and meta["pretty_name"] == "talks"
    assert "cd" * 32 in card and "talks.jsonl" in card and "train 3, valid 1, test 1" in card
    assert "| scorer |" not in card and "| selection |" not in card
    assert "version not recorded" in card
