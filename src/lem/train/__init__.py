"""Training: LoRA supervised fine-tuning on lem datasets (``lem train``), with the prompt
masked, checkpoints that resume exactly, and capability checks along the way."""

from __future__ import annotations

__all__: list[str] = []
