"""Self-distillation: sample answers under the kernel, score them, keep the best as chat
training data without the kernel (``lem distill``, ``lem data``)."""

from __future__ import annotations

__all__: list[str] = []
