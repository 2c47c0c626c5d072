"""One registry mechanism for every pluggable part: backends, scorers, scorer factories,
conditions and CLI commands.

Parts register themselves when their module is imported (``@register_backend("hf")``,
``@register_scorer``, ...). Modules are found through the ``lem.plugins`` entry-point group,
built-ins and plug-ins alike: lem's own ``pyproject.toml`` lists its built-in modules there,
and a separate package adds a scorer or backend by listing its module in the same group::

    [project.entry-points."lem.plugins"]
    my-scorer = "my_package.my_scorer"

Every registry follows the same rules: a name is taken once (registering the same
definition again, as a module reload does, is fine; a different one is an error naming
both definitions), and a lookup of an unknown name is an :class:`~lem.errors.InputError`
listing the known names.
"""

from __future__ import annotations

import importlib
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Generic, TypeVar

from lem.errors import InputError, LemError, LemWarning

__all__ = [
    "COMMAND_GROUP",
    "PLUGIN_GROUP",
    "Registry",
    "RegistryError",
    "definition_of",
    "entry_point_objects",
    "load_plugins",
]

PLUGIN_GROUP = "lem.plugins"
"""The entry-point group whose modules register lem's parts (built-in and third-party)."""

COMMAND_GROUP = "lem.commands"
"""The entry-point group of CLI commands: ``NAME = "module:object"``, where the object is a
typer command function or a ``typer.Typer`` group, added to ``lem`` as ``lem NAME``."""

log = logging.getLogger(__name__)

T = TypeVar("T")


class RegistryError(LemError, ValueError):
    """One name registered with two different definitions (a plug-in clash): one line
    naming both, exit status 2."""


def definition_of(obj: object) -> str:
    """Where something is defined, as ``module.qualname``."""
    module = getattr(obj, "__module__", None) or type(obj).__module__
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{name}"


class Registry(Generic[T]):
    """Named definitions of one kind of part (``kind`` names it in messages). Lookups
    first import the ``lem.plugins`` modules, unless ``plugins`` is False (a registry
    filled another way, such as the CLI's commands)."""

    def __init__(self, kind: str, *, hint: str = "", plugins: bool = True) -> None:
        self.kind = kind
        self.hint = hint
        self.plugins = plugins
        self._items: dict[str, T] = {}

    def _load(self) -> None:
        if self.plugins:
            load_plugins()

    def register(self, name: str, obj: T) -> T:
        """Add ``obj`` under ``name``; a different definition under a taken name raises
        :class:`RegistryError` naming both."""
        if not name or name != name.strip():
            raise RegistryError(f"{self.kind} name {name!r} must be a non-empty word")
        known = self._items.get(name)
        if known is not None and definition_of(known) != definition_of(obj):
            raise RegistryError(
                f"{self.kind} {name!r} is defined twice: by {definition_of(known)} and by "
                f"{definition_of(obj)}; rename one of them"
            )
        self._items[name] = obj
        return obj

    def get(self, name: str) -> T | None:
        self._load()
        return self._items.get(name)

    def require(self, name: str) -> T:
        """The definition under ``name``; an :class:`InputError` naming the known ones if
        there is none."""
        found = self.get(name)
        if found is None:
            known = ", ".join(self.names()) or "none"
            raise InputError(f"unknown {self.kind} {name!r}; known: {known}{self.hint}")
        return found

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load()
        yield from sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items


_loaded = False
_loading = threading.RLock()


def load_plugins(*, reload: bool = False) -> None:
    """Import every module listed in the ``lem.plugins`` entry-point group, once.

    A built-in module whose optional dependency is missing (``mlx`` on a machine without
    it) is skipped quietly; a third-party plug-in that fails to import is skipped with a
    :class:`~lem.errors.LemWarning` naming it.
    """
    global _loaded
    with _loading:
        if _loaded and not reload:
            return
        _loaded = True
        for ep in _ordered(_entry_points()):
            _import(ep.value, ep.name, _dist_name(ep))


def _entry_points(group: str = PLUGIN_GROUP) -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=group))


def entry_point_objects(group: str) -> Iterator[tuple[str, object, str]]:
    """``(name, loaded object, distribution)`` for each entry point of ``group``, sorted by
    name. A built-in whose optional dependency is missing is skipped quietly, a
    third-party one with a warning (as :func:`load_plugins` does)."""
    for ep in _ordered(_entry_points(group)):
        dist = _dist_name(ep)
        try:
            yield ep.name, ep.load(), dist
        except ImportError as exc:
            _skip(ep.name, dist, exc)


def _ordered(eps: list[metadata.EntryPoint]) -> list[metadata.EntryPoint]:
    """lem's own entry points first, then plug-ins, each by name: a clash always names the
    built-in first, whatever the names."""
    return sorted(eps, key=lambda e: (_dist_name(e) != "lem", e.name))


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return str(getattr(dist, "name", "") or "")


def _import(target: str, name: str, dist: str) -> None:
    module, _, attr = target.partition(":")
    try:
        loaded = importlib.import_module(module.strip())
        if attr:
            hook: Callable[[], object] = getattr(loaded, attr.strip())
            hook()
    except ImportError as exc:
        _skip(name, dist, exc)


def _skip(name: str, dist: str, exc: ImportError) -> None:
    if dist == "lem":
        log.debug("built-in plug-in %s skipped: %s", name, exc)
        return
    warnings.warn(
        LemWarning(
            f"plug-in {name!r} from {dist or 'an unknown package'} failed to load "
            f"({type(exc).__name__}: {exc}); it is skipped"
        ),
        stacklevel=3,
    )
