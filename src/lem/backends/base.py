"""The backend contract: turn chat message lists into generations, in batches.

A backend is one module in :mod:`lem.backends` registered with :func:`register_backend`.
The runner hands it :class:`GenerationRequest` batches and stores each
:class:`GenerationResult` as soon as it is yielded, so a backend should yield results as
they complete rather than at the end of a batch.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from lem.errors import BackendError
from lem.options import options_model_from, validate_options
from lem.registry import Registry

__all__ = [
    "BACKENDS",
    "COMPLETION_ROLE",
    "Backend",
    "GenerationRequest",
    "GenerationResult",
    "Message",
    "SamplingParams",
    "as_completion",
    "available_backends",
    "backend_options",
    "create_backend",
    "fold_system",
    "parse_model_spec",
    "prompt_hash",
    "register_backend",
]

Message = dict[str, str]
"""One chat message: ``{"role": "system"|"user"|"assistant", "content": str}``."""

COMPLETION_ROLE = "completion"
"""A conversation of one message with this role is a plain completion prompt (base
models): local backends use its text verbatim, with no chat template."""


def as_completion(messages: list[Message]) -> tuple[list[Message], bool]:
    """A conversation as one completion prompt: system messages, then the user turns,
    joined by blank lines; True when a system message was folded in."""
    system = [m["content"] for m in messages if m.get("role") == "system"]
    user = [m["content"] for m in messages if m.get("role") == "user"]
    return [{"role": COMPLETION_ROLE, "content": "\n\n".join([*system, *user])}], bool(system)


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings shared by every backend.

    ``temperature == 0`` means greedy decoding; ``seed`` makes sampling reproducible.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int = 0
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class GenerationRequest:
    """One generation to perform.

    ``key`` is the content-addressed work-item key; ``seed`` is the per-item seed derived
    from the run seed and the key, so sampled outputs do not depend on batching.
    """

    key: str
    messages: list[Message]
    sampling: SamplingParams
    seed: int = 0


@dataclass
class GenerationResult:
    """What came back for one request; ``error`` set means the generation failed."""

    key: str
    text: str = ""
    reasoning: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    time_s: float = 0.0
    finish_reason: str | None = None
    system_fallback: bool = False
    rendered_hash: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def fold_system(messages: list[Message]) -> list[Message]:
    """The system-role fallback: the same conversation with every system message merged
    into the first user turn as ``system + "\n\n" + user`` (a user turn of its own when
    there is none). For chat templates and servers that reject the system role; every
    generation it touches records ``system_fallback``. Inputs are not modified.
    """
    system = [m["content"] for m in messages if m.get("role") == "system"]
    rest = [dict(m) for m in messages if m.get("role") != "system"]
    if not system:
        return rest
    prefix = "\n\n".join(system)
    for msg in rest:
        if msg.get("role") == "user":
            msg["content"] = prefix + "\n\n" + msg.get("content", "")
            return rest
    return [{"role": "user", "content": prefix}, *rest]


def prompt_hash(rendered: str) -> str:
    """The one definition of a generation's ``rendered_hash``: SHA-256 of the UTF-8 text
    :meth:`Backend.render` returns (the exact prompt text for local models, the message
    list JSON for chat servers). Planning and every backend use it, so the hash stored at
    planning is the hash of what was generated."""
    return hashlib.sha256(rendered.encode("utf-8")).hexdigest()


class Backend(abc.ABC):
    """A model that answers chat message lists.

    Subclasses set :attr:`name` and implement :meth:`generate`. :meth:`identity` is part
    of every work-item key, so it must change whenever outputs could change (weights,
    dtype, served model).
    """

    name: ClassVar[str] = ""

    @abc.abstractmethod
    def identity(self) -> dict[str, Any]:
        """What identifies this model's outputs: its content, never its location.

        Kind plus weights/tokenizer/chat-template fingerprint and dtype for local models;
        served model name plus a behavioural fingerprint for servers. A path or URL never
        enters it (see :meth:`provenance`), so the same model at another path or on
        another host shares every work item.
        """

    def provenance(self) -> dict[str, Any]:
        """Where the model was found (path, URL): recorded in the manifest, never hashed."""
        return {}

    @abc.abstractmethod
    def generate(self, requests: list[GenerationRequest]) -> Iterator[GenerationResult]:
        """Generate every request, yielding each result as it completes (any order)."""

    def supports_system_role(self) -> bool:
        """Whether a system message reaches the model as a system turn."""
        return True

    def render(self, messages: list[Message]) -> tuple[str, bool]:
        """The exact prompt text (or message-list JSON) the model will see, and whether
        the system-role fallback was applied."""
        return json.dumps(messages, ensure_ascii=False), False

    def preferred_batch_size(self) -> int:
        return 8

    def context_length(self) -> int | None:
        """The model's context in tokens (prompt + generation), if known."""
        return None

    def count_tokens(self, rendered: str) -> int | None:
        """Tokens of a rendered prompt (from :meth:`render`), if this backend can count."""
        return None

    def notices(self) -> list[str]:
        """One-line things the user should know after a run (e.g. lowered concurrency)."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, GPU memory)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


BACKENDS: Registry[type[Backend]] = Registry(
    "backend", hint=" (model specs look like hf:PATH, mlx:PATH or openai:URL#MODEL)"
)
"""Every backend kind, by the prefix of its model specs."""


def register_backend(name: str) -> Callable[[type[Backend]], type[Backend]]:
    """Class decorator: make a backend available under ``name`` in model specs. Its
    options are the keyword-only parameters of its constructor (see
    :func:`backend_options`)."""

    def deco(cls: type[Backend]) -> type[Backend]:
        cls.name = name
        BACKENDS.register(name, cls)
        return cls

    return deco


def available_backends() -> list[str]:
    return BACKENDS.names()


def parse_model_spec(spec: str) -> tuple[str, str, str | None]:
    """Split a model spec into ``(backend, target, model_name)``.

    ``hf:PATH`` → ``("hf", PATH, None)``; ``openai:URL#MODEL`` → ``("openai", URL, MODEL)``;
    a bare existing path or ``demo`` means ``hf``.
    """
    kind, sep, rest = spec.partition(":")
    if sep and kind in BACKENDS and not rest.startswith("//"):
        target, hsep, model = rest.partition("#")
        if not target:
            raise BackendError(f"model spec {spec!r} has no target after '{kind}:'")
        return kind, target, (model if hsep else None)
    if spec.startswith(("http://", "https://")):
        target, hsep, model = spec.partition("#")
        return "openai", target, (model if hsep else None)
    return "hf", spec, None


def backend_options(cls: type[Backend]) -> type[BaseModel]:
    """The typed options of a backend: a pydantic model built from the keyword-only
    parameters of its constructor (names, types, defaults), unknown options forbidden.
    The constructor stays the one definition."""
    cached = _OPTIONS.get(cls)
    if cached is None:
        cached = options_model_from(
            cls.__init__, f"{cls.__name__}Options", skip=("target", "model")
        )
        _OPTIONS[cls] = cached
    return cached


_OPTIONS: dict[type[Backend], type[BaseModel]] = {}


def create_backend(spec: str, **options: Any) -> Backend:
    """Build the backend a model spec names. ``options`` are validated against the
    backend's options (:func:`backend_options`): an unknown or ill-typed option is an
    :class:`~lem.errors.InputError` naming the valid ones."""
    kind, target, model = parse_model_spec(spec)
    cls = BACKENDS.get(kind)
    if cls is None:
        raise BackendError(
            f"unknown backend {kind!r} in model spec {spec!r}; "
            f"available: {', '.join(available_backends())}"
        )
    valid = validate_options(backend_options(cls), options, f"backend {kind}")
    factory: Callable[..., Backend] = cls
    return factory(target, model=model, **valid)


def iter_chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of at most ``size`` items."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
