"""Model files: importing GGUF checkpoints as safetensors model folders
(``lem models import``)."""

from __future__ import annotations

from lem.models.gguf import import_gguf

__all__ = ["import_gguf"]
