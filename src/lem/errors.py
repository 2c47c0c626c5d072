"""User-facing errors: one clear line, exit status 2, nothing written is lost."""

from __future__ import annotations

__all__ = ["BackendError", "InputError", "LemError", "LemWarning", "StoreError"]


class LemError(Exception):
    """An error caused by the user's input or environment, shown as one line.

    The CLI prints ``lem: error: <message>`` and exits with :attr:`exit_code`.
    Messages name the file or field at fault and say what to do.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())

    def __str__(self) -> str:
        return self.message


class InputError(LemError):
    """A malformed, missing or inconsistent input file, flag or config field."""


class BackendError(LemError):
    """A model backend cannot be set up (bad path, unreachable server, bad spec)."""


class StoreError(LemError):
    """The run store cannot be opened or is inconsistent."""


class LemWarning(UserWarning):
    """Something the user should know that does not stop the command (an inconsistent
    input file, a setting that was adjusted). The CLI prints ``lem: warning: <message>``."""
