"""LoRA adapters: checking one against its base model and fusing it into a standalone
model (``lem fuse``)."""

from __future__ import annotations

from lem.adapters.peft import check_adapter, fuse_adapter

__all__ = ["check_adapter", "fuse_adapter"]
