"""Content fingerprints of local model weights, cached so big models are hashed once.

A model's fingerprint is part of every work-item key (through the backend identity), so it
must change whenever the weights change and must not cost a full read of 50 GB on every
run. Each file's SHA-256 is cached in ``${LEM_CACHE_DIR:-~/.cache/lem}/fingerprints.json``
under its absolute path together with its size and ``st_mtime_ns``; a file whose size or
mtime changed is hashed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from lem.errors import BackendError

__all__ = ["cache_dir", "weights_files", "weights_fingerprint"]

_CHUNK = 1 << 20
_CACHE_NAME = "fingerprints.json"


def cache_dir() -> Path:
    """Where lem keeps machine-local caches: ``$LEM_CACHE_DIR`` or ``~/.cache/lem``."""
    env = os.environ.get("LEM_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lem"


_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "generation_config.json",
)


def weights_files(path: str | Path) -> list[Path]:
    """The files a fingerprint covers: sorted ``*.safetensors``, ``config.json``, then the
    tokenizer files that exist (a tokenizer change changes outputs as surely as weights)."""
    root = Path(path).expanduser().resolve()
    shards = sorted(root.glob("*.safetensors"))
    if not shards:
        raise BackendError(
            f"no *.safetensors weights in {root}; save the model with safetensors "
            "(save_pretrained(..., safe_serialization=True))"
        )
    config = root / "config.json"
    if not config.is_file():
        raise BackendError(f"no config.json in {root}; point at a Hugging Face model directory")
    tok = [root / n for n in _TOKENIZER_FILES if (root / n).is_file()]
    return [*shards, config, *tok]


def weights_fingerprint(path: str | Path) -> str:
    """SHA-256 identifying the weights and config of the model directory ``path``.

    It hashes, in order, each file's name and its own SHA-256 (files as listed by
    :func:`weights_files`, read in 1 MiB chunks). Per-file digests come from the cache when
    the file's absolute path, size and mtime are unchanged; cache trouble (unwritable
    directory, corrupt JSON) only costs a re-hash, never an error.
    """
    files = weights_files(path)
    cache = _load_cache()
    combined = hashlib.sha256()
    fresh: dict[str, dict[str, Any]] = {}
    for file in files:
        st = file.stat()
        key = str(file)
        entry = cache.get(key)
        if (
            isinstance(entry, dict)
            and entry.get("size") == st.st_size
            and entry.get("mtime_ns") == st.st_mtime_ns
            and isinstance(entry.get("sha256"), str)
        ):
            digest = entry["sha256"]
        else:
            digest = _hash_file(file)
            fresh[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        combined.update(f"{file.name}\0{digest}\n".encode())
    if fresh:
        _store_cache(fresh)
    return combined.hexdigest()


def _hash_file(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _load_cache() -> dict[str, Any]:
    try:
        data = json.loads((cache_dir() / _CACHE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store_cache(fresh: dict[str, dict[str, Any]]) -> None:
    """Merge ``fresh`` into the cache file, replacing it atomically (last writer wins)."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        data = _load_cache()
        data.update(fresh)
        fd, tmp = tempfile.mkstemp(prefix=".fingerprints-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
            os.replace(tmp, directory / _CACHE_NAME)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return
