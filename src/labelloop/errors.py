"""One error hierarchy with stable codes.

Every error that crosses a boundary (CLI, API, import report) is a :class:`LabelloopError`
with a stable ``code``. The CLI maps codes to exit codes and the API to HTTP statuses in one
place each; messages say which input failed, what was expected and what came.

Example:
    >>> err = InputRejected("photo.png", "an image", "HTML text")
    >>> err.code, str(err)
    ('LL-INPUT', 'photo.png: expected an image, got HTML text')
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailable",
    "Conflict",
    "FormatError",
    "InputRejected",
    "InvalidAnnotation",
    "InvalidSchema",
    "LabelloopError",
    "NotFound",
    "PermissionDenied",
    "PluginError",
    "StorageError",
]


class LabelloopError(Exception):
    """Root of every error labelloop raises on purpose.

    Attributes:
        code: A stable, documented code such as ``LL-NOTFOUND``.
        exit_code: The process exit code the CLI uses for this error.
        http_status: The HTTP status the API answers with.
    """

    code = "LL-ERROR"
    exit_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(LabelloopError):
    """A named object does not exist (or is not visible to the caller)."""

    code = "LL-NOTFOUND"
    exit_code = 3
    http_status = 404

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(LabelloopError):
    """The request conflicts with the current state (duplicate name, stale version)."""

    code = "LL-CONFLICT"
    exit_code = 4
    http_status = 409


class InvalidSchema(LabelloopError):
    """A label schema (project configuration) is malformed."""

    code = "LL-SCHEMA"
    exit_code = 2
    http_status = 422


class InvalidAnnotation(LabelloopError):
    """An annotation or suggestion does not satisfy the project's label schema.

    Attributes:
        problems: One human-readable line per violation, each naming the path in the value.
    """

    code = "LL-ANNOTATION"
    exit_code = 2
    http_status = 422

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems) if problems else "invalid annotation")
        self.problems = problems


class InputRejected(LabelloopError):
    """An input (file, row, archive member) was refused.

    The message names the input, what was expected and what came.
    """

    code = "LL-INPUT"
    exit_code = 2
    http_status = 422

    def __init__(self, source: str, expected: str, got: str) -> None:
        super().__init__(f"{source}: expected {expected}, got {got}")
        self.source = source
        self.expected = expected
        self.got = got


class FormatError(LabelloopError):
    """A file in a known format could not be read or written."""

    code = "LL-FORMAT"
    exit_code = 2
    http_status = 422


class PermissionDenied(LabelloopError):
    """The actor may not perform the action."""

    code = "LL-DENIED"
    exit_code = 5
    http_status = 403


class BackendUnavailable(LabelloopError):
    """A pre-annotation backend cannot be set up or reached."""

    code = "LL-BACKEND"
    exit_code = 6
    http_status = 503


class PluginError(LabelloopError):
    """A plugin is missing or broken; the message lists what is available."""

    code = "LL-PLUGIN"
    exit_code = 6
    http_status = 500


class StorageError(LabelloopError):
    """The database or blob store is unusable (wrong schema revision, unreachable, full)."""

    code = "LL-STORAGE"
    exit_code = 7
    http_status = 503
