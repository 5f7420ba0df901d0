"""Accounts, sessions, API tokens and memberships. Tokens are looked up by their SHA-256.

Every change to who may do what (a revoked session or token, a new password, a membership
added, changed or removed) advances :func:`accounts_generation`, so a cache of callers
(:mod:`labelloop.services.accounts`) can tell, without a query, that it may be out of date.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from labelloop.core.accounts import Membership, Role, User
from labelloop.errors import Conflict, NotFound
from labelloop.storage import tables_accounts as ta
from labelloop.storage.rawsql import Raw, Sql
from labelloop.storage.repositories import now

__all__ = ["AccountRepo", "accounts_generation", "advance_accounts_generation"]


class _Generation:
    """A process-wide counter of account changes (thread-safe)."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def advance(self) -> None:
        with self._lock:
            self.value += 1


_GENERATION = _Generation()


def accounts_generation() -> int:
    """How many account changes this process has made so far."""
    return _GENERATION.value


def advance_accounts_generation() -> None:
    """Mark a change to credentials or memberships (call it again once the change is committed)."""
    _GENERATION.advance()


def _caller_sql(via: str, live: str) -> Sql:
    """User, their role in a project and whether it exists, by credential digest (one indexed query).

    Parameters: project id, project id, digest (and the time, for sessions). Run on every request.
    """
    return Sql(
        "SELECT u.id, u.username, u.is_admin, m.role, (SELECT p.id FROM projects p WHERE p.id = ?)"  # noqa: S608 (constants only)
        f" FROM users u JOIN {via} v ON v.user_id = u.id"
        " LEFT JOIN memberships m ON m.user_id = u.id AND m.project_id = ?"
        f" WHERE v.token_hash = ? AND v.revoked_at IS NULL AND u.disabled = FALSE{live}"
    )


_BY_SESSION = _caller_sql("sessions", " AND v.expires_at > ?")
_BY_TOKEN = _caller_sql("api_tokens", "")


def _user(row: Any) -> User:
    return User(row.id, row.username, bool(row.is_admin))


class AccountRepo:
    """Users, their sessions and tokens, and their project memberships."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # users -------------------------------------------------------------------------------
    def create_user(self, username: str, password_hash: str, *, is_admin: bool = False) -> User:
        """Create a user.

        Raises:
            Conflict: the username is taken.
        """
        if self.conn.execute(select(ta.users.c.id).where(ta.users.c.username == username)).first():
            raise Conflict(f"user {username!r} already exists")
        try:
            uid = self.conn.execute(
                insert(ta.users)
                .values(username=username, password_hash=password_hash, is_admin=is_admin, disabled=False,
                        created_at=now())
                .returning(ta.users.c.id)
            ).scalar_one()  # fmt: skip
        except IntegrityError as exc:
            raise Conflict(f"user {username!r} already exists") from exc
        return User(uid, username, is_admin)

    def user_by_name(self, username: str) -> tuple[User, str] | None:
        """The enabled user of that name and their password hash, or None."""
        row = self.conn.execute(
            select(ta.users).where(ta.users.c.username == username, ta.users.c.disabled.is_(False))
        ).first()
        return None if row is None else (_user(row), row.password_hash)

    def user(self, user_id: int) -> User:
        """A user by id.

        Raises:
            NotFound: no such user.
        """
        row = self.conn.execute(select(ta.users).where(ta.users.c.id == user_id)).first()
        if row is None:
            raise NotFound("user", user_id)
        return _user(row)

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's password hash."""
        advance_accounts_generation()
        self.conn.execute(update(ta.users).where(ta.users.c.id == user_id).values(password_hash=password_hash))

    # sessions and tokens -----------------------------------------------------------------
    def add_session(self, user_id: int, token_hash: str, expires_at: datetime) -> int:
        """Store a new session; return its id."""
        return int(
            self.conn.execute(
                insert(ta.sessions)
                .values(token_hash=token_hash, user_id=user_id, created_at=now(), expires_at=expires_at)
                .returning(ta.sessions.c.id)
            ).scalar_one()
        )

    def caller(
        self, digest: str, *, session: bool, at: datetime, project_id: int = 0
    ) -> tuple[User, str | None] | None:
        """The user behind a session or API-token digest and their role in ``project_id``.

        The role is ``admin`` for instance admins when the project exists, None for
        non-members; the whole answer is None for an unknown, expired or revoked credential.
        """
        raw = Raw(self.conn)
        if session:
            row = raw.one(_BY_SESSION, (project_id, project_id, digest, raw.time_in(at)))
        else:
            row = raw.one(_BY_TOKEN, (project_id, project_id, digest))
        if row is None:
            return None
        user = User(row[0], row[1], bool(row[2]))
        if user.is_admin:
            return user, "admin" if row[4] is not None else None
        return user, row[3]

    def session_user(self, token_hash: str, at: datetime) -> User | None:
        """The user of a live (unexpired, unrevoked) session, or None."""
        s, u = ta.sessions, ta.users
        row = self.conn.execute(
            select(u)
            .join(s, s.c.user_id == u.c.id)
            .where(s.c.token_hash == token_hash, s.c.revoked_at.is_(None), s.c.expires_at > at, u.c.disabled.is_(False))
        ).first()
        return None if row is None else _user(row)

    def revoke_session(self, token_hash: str) -> None:
        """Revoke one session (logout)."""
        advance_accounts_generation()
        self.conn.execute(
            update(ta.sessions)
            .where(ta.sessions.c.token_hash == token_hash, ta.sessions.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )

    def revoke_all(self, user_id: int, *, keep_session: str | None = None) -> None:
        """Revoke every session and API token of a user, except the session ``keep_session``."""
        advance_accounts_generation()
        when = now()
        q = update(ta.sessions).where(ta.sessions.c.user_id == user_id, ta.sessions.c.revoked_at.is_(None))
        if keep_session is not None:
            q = q.where(ta.sessions.c.token_hash != keep_session)
        self.conn.execute(q.values(revoked_at=when))
        self.conn.execute(
            update(ta.api_tokens)
            .where(ta.api_tokens.c.user_id == user_id, ta.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=when)
        )

    def add_token(self, user_id: int, token_hash: str, name: str) -> int:
        """Store a new API token; return its id."""
        return int(
            self.conn.execute(
                insert(ta.api_tokens)
                .values(token_hash=token_hash, user_id=user_id, name=name, created_at=now())
                .returning(ta.api_tokens.c.id)
            ).scalar_one()
        )

    def token_user(self, token_hash: str) -> User | None:
        """The user of an unrevoked API token, or None."""
        t, u = ta.api_tokens, ta.users
        row = self.conn.execute(
            select(u)
            .join(t, t.c.user_id == u.c.id)
            .where(t.c.token_hash == token_hash, t.c.revoked_at.is_(None), u.c.disabled.is_(False))
        ).first()
        return None if row is None else _user(row)

    def revoke_token(self, user_id: int, token_id: int) -> None:
        """Revoke one of the user's tokens.

        Raises:
            NotFound: the user has no such token (another user's token is "not found" too).
        """
        advance_accounts_generation()
        done = self.conn.execute(
            update(ta.api_tokens)
            .where(ta.api_tokens.c.id == token_id, ta.api_tokens.c.user_id == user_id)
            .values(revoked_at=now())
        )
        if done.rowcount == 0:
            raise NotFound("token", token_id)

    def tokens(self, user_id: int) -> list[dict[str, Any]]:
        """The user's API tokens (never their secrets)."""
        t = ta.api_tokens
        rows = self.conn.execute(select(t).where(t.c.user_id == user_id).order_by(t.c.id))
        return [
            {"id": r.id, "name": r.name, "created_at": r.created_at.isoformat(), "revoked": r.revoked_at is not None}
            for r in rows
        ]

    # memberships -------------------------------------------------------------------------
    def role(self, project_id: int, user_id: int) -> Role | None:
        """The user's role in the project, or None for a non-member."""
        m = ta.memberships
        r = self.conn.execute(select(m.c.role).where(m.c.project_id == project_id, m.c.user_id == user_id)).first()
        return None if r is None else Role(r[0])

    def membership(self, project_id: int, user_id: int) -> Membership | None:
        """The full membership row, or None."""
        m, u = ta.memberships, ta.users
        r = self.conn.execute(
            select(m, u.c.username).join(u, u.c.id == m.c.user_id).where(m.c.project_id == project_id,
                                                                          m.c.user_id == user_id)
        ).first()  # fmt: skip
        return None if r is None else Membership(r.project_id, r.user_id, r.username, Role(r.role), r.quota)

    def set_member(self, project_id: int, user_id: int, role: Role, quota: int | None = None) -> None:
        """Add a member or change their role and quota."""
        advance_accounts_generation()
        m = ta.memberships
        where = (m.c.project_id == project_id, m.c.user_id == user_id)
        if self.conn.execute(select(m.c.role).where(*where)).first():
            self.conn.execute(update(m).where(*where).values(role=role.value, quota=quota))
        else:
            self.conn.execute(insert(m).values(project_id=project_id, user_id=user_id, role=role.value, quota=quota))

    def remove_member(self, project_id: int, user_id: int) -> None:
        """Remove a member.

        Raises:
            NotFound: not a member.
        """
        advance_accounts_generation()
        m = ta.memberships
        if self.conn.execute(delete(m).where(m.c.project_id == project_id, m.c.user_id == user_id)).rowcount == 0:
            raise NotFound("member", user_id)

    def members(self, project_id: int) -> list[Membership]:
        """A project's members by username."""
        m, u = ta.memberships, ta.users
        rows = self.conn.execute(
            select(m, u.c.username).join(u, u.c.id == m.c.user_id).where(m.c.project_id == project_id)
            .order_by(u.c.username)
        )  # fmt: skip
        return [Membership(r.project_id, r.user_id, r.username, Role(r.role), r.quota) for r in rows]

    def roles_of(self, user_id: int) -> dict[int, Role]:
        """Project id -> role for every project the user belongs to."""
        m = ta.memberships
        rows = self.conn.execute(select(m.c.project_id, m.c.role).where(m.c.user_id == user_id))
        return {r.project_id: Role(r.role) for r in rows}

    # media -------------------------------------------------------------------------------
    def media_projects(self, sha256: str) -> list[int]:
        """The projects whose shown items use this blob."""
        g = ta.media_grants
        return [r[0] for r in self.conn.execute(select(g.c.project_id).where(g.c.sha256 == sha256))]
