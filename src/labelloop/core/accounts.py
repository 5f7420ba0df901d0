"""Accounts and project roles: the domain types of the web app.

Example:
    >>> Role("reviewer") >= Role.ANNOTATOR
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["Membership", "Refusal", "Role", "User"]

_RANK = {"viewer": 0, "annotator": 1, "reviewer": 2, "manager": 3}


class Role(StrEnum):
    """A project role; ordered viewer < annotator < reviewer < manager."""

    VIEWER = "viewer"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    MANAGER = "manager"

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return _RANK[self.value] >= _RANK[other.value]


@dataclass(frozen=True, slots=True)
class User:
    """A person who can log in. Admins are instance operators (every project, every action)."""

    id: int
    username: str
    is_admin: bool

    def to_json(self) -> dict[str, object]:
        """The wire form ``{"id", "username", "is_admin"}``."""
        return {"id": self.id, "username": self.username, "is_admin": self.is_admin}


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's role in one project, with an optional quota of submitted annotations."""

    project_id: int
    user_id: int
    username: str
    role: Role
    quota: int | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the API refused, as the security audit log keeps it.

    ``suppressed`` counts the refusals from the same address that were not written one by one
    just before this one (a flood is summarised, not stored row by row).
    """

    at: datetime
    user_id: int | None
    username: str | None
    ip: str
    method: str
    path: str
    status: int
    code: str
    reason: str
    suppressed: int = 0
    id: int = 0

    def to_json(self) -> dict[str, object]:
        """The wire form (times in ISO 8601)."""
        return {
            "id": self.id, "at": self.at.isoformat(), "user_id": self.user_id, "username": self.username,
            "ip": self.ip, "method": self.method, "path": self.path, "status": self.status, "code": self.code,
            "reason": self.reason, "suppressed": self.suppressed,
        }  # fmt: skip
