"""GGUF → a safetensors model folder every backend can load.

transformers reads GGUF files (through the ``gguf`` package) and dequantizes the weights
to float32; a GGUF-loaded model cannot be saved as it is, so the model is re-created from
its config, given the loaded weights and saved with ``save_pretrained`` (safetensors),
with the tokenizer (chat template included) and the generation config. ``lem-import.json``
records the source file's name, size and SHA-256. Nothing is downloaded: the file is
given by path.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lem.errors import InputError

__all__ = ["import_gguf"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _drop_tokens_beyond(folder: Path, vocab_size: int) -> list[str]:
    """Remove added tokens whose id the embedding has no row for. transformers' GGUF
    byte-level tokenizer adds GPT-2's ``<|endoftext|>`` when the vocabulary lacks it (Llama
    3 GGUFs, for one): an id past the embedding that would fail at lookup. Special-token
    settings naming a removed token are cleared. Returns the removed tokens."""
    path = folder / "tokenizer.json"
    if vocab_size <= 0 or not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    extra = [t for t in data.get("added_tokens", []) if int(t.get("id", -1)) >= vocab_size]
    if not extra:
        return []
    gone = {str(t["content"]) for t in extra}
    data["added_tokens"] = [t for t in data["added_tokens"] if str(t["content"]) not in gone]
    vocab = (data.get("model") or {}).get("vocab")
    if isinstance(vocab, dict):
        for token in gone:
            if int(vocab.get(token, -1)) >= vocab_size:
                del vocab[token]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    cfg_path = folder / "tokenizer_config.json"
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        decoder = cfg.get("added_tokens_decoder")
        if isinstance(decoder, dict):
            cfg["added_tokens_decoder"] = {k: v for k, v in decoder.items() if int(k) < vocab_size}
        for key in ("unk_token", "bos_token", "eos_token", "pad_token"):
            if cfg.get(key) in gone:
                cfg[key] = None
        cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return sorted(gone)


def import_gguf(gguf: str | Path, out: str | Path) -> dict[str, Any]:
    """Convert the GGUF file ``gguf`` into the model folder ``out`` (which must not exist
    or be empty); returns the provenance record written to ``lem-import.json``."""
    src = Path(gguf)
    dest = Path(out)
    if not src.is_file():
        raise InputError(f"{src}: no such GGUF file; give the path of a .gguf file")
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"--out {dest} is not empty; choose a new folder")
    try:
        import gguf as _gguf  # noqa: F401
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise InputError(
            f"importing GGUF needs {exc.name}; install lem with the train extra "
            "(pip install 'lem[train]')"
        ) from None
    hf_logging.disable_progress_bar()
    folder, name = str(src.parent), src.name
    try:
        config = AutoConfig.from_pretrained(folder, gguf_file=name, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
        loaded = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, local_files_only=True, dtype=torch.float32
        )
    except Exception as exc:
        raise InputError(
            f"{src}: transformers cannot read this GGUF ({type(exc).__name__}: {exc})".splitlines()[
                0
            ]
        ) from None
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise InputError(
            f"{src}: weights do not match the architecture (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]})"
        )
    fresh.generation_config = loaded.generation_config
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    record = {
        "source": src.name,
        "bytes": src.stat().st_size,
        "sha256": _sha256(src),
        "model_type": getattr(config, "model_type", None),
        "parameters": sum(p.numel() for p in fresh.parameters()),
    }
    try:
        fresh.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        dropped = _drop_tokens_beyond(tmp, int(getattr(config, "vocab_size", 0) or 0))
        if dropped:
            record["dropped_tokens"] = dropped
        (tmp / "lem-import.json").write_text(json.dumps(record, indent=2) + "\n")
        tmp.chmod(0o755)
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return record
