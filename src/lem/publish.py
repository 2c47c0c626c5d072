"""Publishing a lem dataset folder to the Hugging Face Hub (``lem publish``).

The repository receives

``data/train.parquet``, ``data/valid.parquet``, ``data/test.parquet``
    the splits as written by :func:`lem.formats.parquet.export_parquet` (chat columns plus
    provenance), so ``datasets.load_dataset("USER/NAME")`` reads them; an empty split is
    left out (``datasets`` cannot read an empty Parquet file);
``lineage.jsonl``, ``manifest.json``
    the dataset folder's own files, byte for byte;
``README.md``
    a dataset card: YAML front matter the Hub reads (license, task category, tags and a
    ``configs`` entry mapping each split to its Parquet file) and a body naming the
    dataset id, rows per split, source model and condition, the scorer and selection, the
    contamination check, lem's version and how to load it.

Everything is built in a temporary folder first. A dry run stops there: nothing touches
the network and no token is needed. Otherwise the repository is created (private unless
``public``; an existing one is kept as it is) and every file goes up in one commit.

The token comes only from the environment variable ``token_env``. It is passed to
``huggingface_hub`` and nowhere else: it is never printed, logged or written, and errors
from the Hub are re-raised as one-line :class:`~lem.errors.LemError` messages with the
token masked. While publishing, huggingface_hub's telemetry (which may fetch a registry
from the default endpoint, whatever ``endpoint`` is) is switched off, so the only server
contacted is ``endpoint``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lem.distill.dataset import SPLITS, read_manifest
from lem.errors import InputError, LemError
from lem.redact import redact, register_secret, secret_from_env

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_LICENSE",
    "PublishFile",
    "PublishResult",
    "dataset_card",
    "publish_dataset",
]

DEFAULT_ENDPOINT = "https://huggingface.co"
"""huggingface_hub's default endpoint (used when neither ``endpoint`` nor ``HF_ENDPOINT``
is set)."""

DEFAULT_LICENSE = "other"

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class PublishFile:
    """One file of the published repository."""

    path: str
    size: int


@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish_dataset` uploaded (or, for a dry run, would upload)."""

    repo_id: str
    private: bool
    endpoint: str
    revision: str
    dataset_id: str
    files: list[PublishFile]
    dry_run: bool
    repo_type: str = "dataset"
    url: str | None = None
    commit_url: str | None = None
    commit_oid: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _endpoint(endpoint: str | None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _cell(value: Any) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    return f"`{_cell(value).replace('`', '')}`"


def _selection(sel: Mapping[str, Any]) -> str | None:
    if not sel:
        return None
    parts = []
    keep = sel.get("keep")
    if keep is not None:
        parts.append(f"keep {keep}")
    if sel.get("min_score") is not None:
        parts.append(f"threshold {sel['min_score']}")
    if sel.get("per_prompt") is not None:
        parts.append(f"top-k {sel['per_prompt']} per prompt")
    near = sel.get("near_duplicate")
    if isinstance(near, Mapping) and near.get("threshold") is not None:
        parts.append(f"near-duplicate threshold {near['threshold']}")
    return ", ".join(parts) or None


def _scorer(sel: Mapping[str, Any]) -> str | None:
    scorer = sel.get("scorer")
    if not isinstance(scorer, Mapping) or not scorer.get("id"):
        return None
    text = _code(scorer["id"])
    if scorer.get("version") is not None:
        text += f" version {_code(scorer['version'])}"
    if scorer.get("definition_hash"):
        text += f", definition hash {_code(scorer['definition_hash'])}"
    return text


def _contamination(record: Any) -> str | None:
    if not isinstance(record, Mapping):
        return None
    method = record.get("method") or "?"
    sets = [s for s in record.get("sets") or [] if isinstance(s, Mapping)]
    if not sets:
        return f"no evaluation probe set was compared (method {method})"
    parts = []
    total = 0
    for s in sets:
        n = len(s.get("overlaps") or [])
        total += n
        parts.append(f"{_code(s.get('source', '?'))} ({s.get('probes', '?')} probes): {n}")
    verdict = "no overlap" if not total else f"{total} overlap(s)"
    if total and record.get("allowed"):
        verdict += ", allowed with --allow-overlap"
    return f"{verdict} (method {method}; overlaps per set: {'; '.join(parts)})"


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M" if n < 1_000_000 else "n>1M"


def dataset_card(
    manifest: Mapping[str, Any],
    repo_id: str,
    *,
    license: str = DEFAULT_LICENSE,
    rows: Mapping[str, int] | None = None,
) -> str:
    """The dataset card (``README.md``) for a dataset's manifest: Hub front matter and a
    summary. ``rows`` per split default to the manifest's counts. Fields the manifest
    lacks (converted conversations have no scorer) are left out rather than guessed."""
    from lem import __version__

    dataset_id = str(manifest.get("dataset_id", "unknown"))
    if rows is None:
        files = manifest.get("files") or {}
        rows = {s: int((files.get(s) or {}).get("rows", 0)) for s in SPLITS}
    name = str(manifest.get("name") or repo_id.split("/")[-1])
    front = {
        "license": license,
        "pretty_name": name,
        "task_categories": ["text-generation"],
        "tags": ["lem", "kernel-alignment"],
        "size_categories": [_size_category(sum(rows.values()))],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": s, "path": f"data/{s}.parquet"} for s in SPLITS if rows.get(s)
                ],
            }
        ],
    }
    kind = manifest.get("kind")
    source = manifest.get("source") if isinstance(manifest.get("source"), Mapping) else {}
    assert isinstance(source, Mapping)
    sel = manifest.get("selection") if isinstance(manifest.get("selection"), Mapping) else {}
    assert isinstance(sel, Mapping)
    table: list[tuple[str, str | None]] = [
        ("dataset id (content hash)", _code(dataset_id)),
        ("kind", _code(kind) if kind else None),
        ("rows", ", ".join(f"{s} {rows.get(s, 0)}" for s in SPLITS)),
        ("source model", _code(source["model"]) if source.get("model") else None),
        ("condition", _code(source["condition"]) if source.get("condition") else None),
        ("source run", _code(source["run_id"]) if source.get("run_id") else None),
    ]
    if kind == "conv" or source.get("file"):
        sha = source.get("sha256")
        table.append(
            (
                "source file",
                f"{_code(source.get('file', '?'))}" + (f" (SHA-256 {_code(sha)})" if sha else ""),
            )
        )
        if manifest.get("system"):
            table.append(("system messages", _cell(manifest["system"])))
    table += [
        ("scorer", _scorer(sel)),
        ("selection", _cell(s) if (s := _selection(sel)) else None),
        ("contamination check", _contamination(manifest.get("contamination"))),
    ]
    made = manifest.get("lem_version")
    version = f"lem {made}" if made else "lem (version not recorded)"
    if made != __version__:
        version += f", published with lem {__version__}"
    table.append(("made with", _cell(version)))
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip(
            "\n"
        ),
        "---",
        "",
        f"# {_cell(name)}",
        "",
        "Chat training examples written by lem (a kernel-alignment research toolkit): one "
        "user prompt and one assistant answer per row, with where each answer came from.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in table if v),
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{repo_id}")',
        'print(ds["train"][0]["prompt"], ds["train"][0]["response"])',
        "```",
        "",
        "## Files",
        "",
        "- `data/{train,valid,test}.parquet`: the splits (zstd Parquet). Columns: `prompt`, "
        "`response`, `system`, `messages` (the full chat as JSON), and provenance: `model`, "
        "`condition`, `scorer`, `scorer_version`, `score`, `generation_id`, `run_id`, "
        "`probe_id`, `domain`, `source`, `dataset_id`.",
        "- `lineage.jsonl`: one line per example (split, row, prompt id, domain and the "
        "answer's origin).",
        "- `manifest.json`: the settings that made the dataset, counts per split and domain, "
        "the score distribution, rejections by reason and the contamination check.",
        "",
        "The dataset id is the SHA-256 of the SHA-256 digests of the train, valid and test "
        "chat files, so the same examples in the same splits always have the same id.",
        "",
    ]
    return "\n".join(lines)


def _build(folder: Path, dest: Path, repo_id: str, license: str) -> tuple[str, list[Path]]:
    """Write the repository's files into ``dest``; returns the dataset id and the files."""
    from lem.formats.parquet import export_parquet

    manifest = read_manifest(folder)
    done = export_parquet(folder, dest / "data")
    for name in ("lineage.jsonl", "manifest.json"):
        src = folder / name
        if src.is_file():
            shutil.copyfile(src, dest / name)
    rows: dict[str, int] = done["rows"]
    if not any(rows.values()):
        raise InputError(f"{folder} holds no examples; there is nothing to publish")
    card = dataset_card(manifest, repo_id, license=license, rows=rows)
    (dest / "README.md").write_text(card, encoding="utf-8")
    # an empty split is left out (card and files): `datasets` cannot read an empty Parquet
    parquet = [f"data/{s}.parquet" for s in SPLITS if rows.get(s)]
    order = ["README.md", "manifest.json", "lineage.jsonl", *parquet]
    return str(manifest["dataset_id"]), [dest / p for p in order if (dest / p).is_file()]


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's own errors (connection refused, timeouts), whichever client this
    huggingface_hub version uses."""
    errors: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx", "requests"):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        base = getattr(mod, "HTTPError", None) or getattr(mod, "RequestException", None)
        if isinstance(base, type) and issubclass(base, BaseException):
            errors.append(base)
    return tuple(errors)


@contextlib.contextmanager
def _no_telemetry() -> Iterator[None]:
    """huggingface_hub's user-agent telemetry may fetch a registry from its *default*
    endpoint; switch it off so only the chosen endpoint is contacted."""
    from huggingface_hub import constants

    before = constants.HF_HUB_DISABLE_TELEMETRY
    constants.HF_HUB_DISABLE_TELEMETRY = True
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_TELEMETRY = before


def _upload(
    files: list[Path],
    root: Path,
    *,
    repo_id: str,
    token: str,
    endpoint: str,
    private: bool,
    revision: str,
    dataset_id: str,
) -> tuple[str, str | None, str | None, bool | None]:
    try:
        from huggingface_hub import CommitOperationAdd, HfApi
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    except ImportError:
        raise InputError("publishing needs huggingface_hub: pip install huggingface_hub") from None

    def fail(step: str, exc: BaseException) -> LemError:
        if isinstance(exc, HfHubHTTPError):
            status = exc.response.status_code if exc.response is not None else "?"
            detail = exc.server_message or str(exc).splitlines()[0]
            msg = f"the Hub refused to {step} (HTTP {status}): {detail}"
            if status in (401, 403):
                msg += "; check that the token has write access to the namespace"
        elif isinstance(exc, OfflineModeIsEnabled):
            msg = (
                f"cannot {step}: huggingface_hub is in offline mode (HF_HUB_OFFLINE or "
                "TRANSFORMERS_OFFLINE is set); unset it to publish"
            )
        elif isinstance(exc, ValueError):
            msg = f"cannot {step}: {exc}"
        else:
            msg = f"cannot {step} at {endpoint}: {type(exc).__name__}: {exc}"
        return LemError(redact(" ".join(msg.split())[:500], extra=[token]))

    expected: tuple[type[BaseException], ...] = (
        HfHubHTTPError,
        OfflineModeIsEnabled,
        ValueError,
        *_transport_errors(),
    )
    api = HfApi(endpoint=endpoint, token=token)
    with _no_telemetry():
        try:
            url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        except expected as exc:
            raise fail(f"create dataset repo {repo_id}", exc) from None
        try:
            actual = api.repo_info(repo_id, repo_type="dataset").private
        except expected as exc:
            raise fail(f"read dataset repo {repo_id}", exc) from None
        operations = [
            CommitOperationAdd(path_in_repo=p.relative_to(root).as_posix(), path_or_fileobj=str(p))
            for p in files
        ]
        try:
            commit = api.create_commit(
                repo_id,
                operations,
                commit_message=f"Publish lem dataset {dataset_id}",
                commit_description=f"lem dataset {dataset_id}: {len(files)} files.",
                repo_type="dataset",
                revision=revision,
            )
        except expected as exc:
            raise fail(f"commit to {repo_id}", exc) from None
    return str(url), str(commit.commit_url), str(commit.oid), actual


def _check_no_secret(files: list[Path], token: str) -> None:
    needle = token.encode()
    if len(needle) < 8:  # too short to tell from ordinary text
        return
    for path in files:
        if path.suffix != ".parquet" and path.is_file() and needle in path.read_bytes():
            raise InputError(
                f"{path.name} contains the value of the token variable; refusing to publish it"
            )


def publish_dataset(
    dataset: str | Path,
    repo_id: str,
    *,
    public: bool = False,
    license: str = DEFAULT_LICENSE,
    token_env: str = "HF_TOKEN",
    endpoint: str | None = None,
    dry_run: bool = False,
    revision: str = "main",
) -> PublishResult:
    """Publish the lem dataset folder ``dataset`` as the Hub dataset repo ``repo_id``
    (``USER/NAME``): private unless ``public``, one commit of the card, manifest, lineage
    and the Parquet splits. ``dry_run`` builds the files and returns them with their sizes
    without touching the network or needing the token."""
    folder = Path(dataset)
    if not _REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", "-", ".")):
        raise InputError(f"--repo {repo_id!r}: give the dataset repo as USER/NAME")
    read_manifest(folder)
    if not license.strip():
        raise InputError("--license must not be empty")
    url = _endpoint(endpoint)
    private = not public
    token: str | None = None
    if not dry_run:
        # stripped: a token pasted with a newline would otherwise reach an HTTP error
        # message in a form the masking does not recognise
        token = (secret_from_env(token_env) or "").strip() or None
        register_secret(token)
        if token is None:
            raise InputError(
                f"environment variable {token_env} is not set; put a Hugging Face access token "
                "with write access in it (or name another variable with --token-env)"
            )
    with tempfile.TemporaryDirectory(prefix="lem-publish-") as tmp:
        root = Path(tmp)
        dataset_id, files = _build(folder, root, repo_id, license)
        listed = [PublishFile(p.relative_to(root).as_posix(), p.stat().st_size) for p in files]
        if token is None:
            return PublishResult(repo_id, private, url, revision, dataset_id, listed, True)
        _check_no_secret([*files, *(folder / f"{s}.jsonl" for s in SPLITS)], token)
        repo_url, commit_url, oid, actual = _upload(
            files,
            root,
            repo_id=repo_id,
            token=token,
            endpoint=url,
            private=private,
            revision=revision,
            dataset_id=dataset_id,
        )
    notes = []
    if actual is not None and actual != private:
        had, asked = ("private", "public") if actual else ("public", "private")
        notes.append(
            f"{repo_id} already existed and is {had}; it was not made {asked} (lem never "
            "changes an existing repo's visibility: change it in the repo's settings)"
        )
        private = bool(actual)
    return PublishResult(
        repo_id,
        private,
        url,
        revision,
        dataset_id,
        listed,
        False,
        url=repo_url,
        commit_url=commit_url,
        commit_oid=oid,
        warnings=notes,
    )
