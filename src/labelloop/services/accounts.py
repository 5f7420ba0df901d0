"""Accounts: users, log-in sessions, API tokens, CSRF tokens, login rate limits, memberships.

No open sign-up: users are created by an admin (``labelloop user create``) or the demo.
Passwords are hashed with argon2id; session and API tokens are random 256-bit strings of
which only the SHA-256 is stored; the CSRF token of a session is an HMAC of the session under
the instance secret, which is generated (0600) under the data dir when none is configured.

Example:
    >>> import tempfile, pathlib
    >>> from labelloop.storage import Store
    >>> store = Store.open(None, pathlib.Path(tempfile.mkdtemp()))
    >>> u = create_user(store, "alice", "correct horse battery", is_admin=True)
    >>> login(store, "alice", "correct horse battery", ip="127.0.0.1").user.username
    'alice'
    >>> store.close()
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from labelloop.core.accounts import Membership, Role, User
from labelloop.errors import InputRejected, LabelloopError, NotFound, PermissionDenied
from labelloop.storage import Store, UnitOfWork, now
from labelloop.storage.accounts_repo import AccountRepo, accounts_generation, advance_accounts_generation
from labelloop.storage.login_attempts_repo import LoginAttemptRepo

__all__ = [
    "CALLER_TTL_S",
    "SESSION_HOURS",
    "AuthFailed",
    "LoginLimiter",
    "LoginResult",
    "RateLimited",
    "add_member",
    "authenticate",
    "authenticate_session",
    "authenticate_token",
    "cached_caller",
    "change_own_password",
    "change_password",
    "create_token",
    "create_user",
    "csrf_token",
    "ensure_demo_admin",
    "list_members",
    "list_tokens",
    "load_secret",
    "login",
    "logout",
    "remove_member",
    "revoke_token",
    "user_id_by_name",
]

SESSION_HOURS = 12
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # verifying against this when the user does not exist keeps both failures equally slow
    return _hasher.hash("labelloop: no such user")


class AuthFailed(LabelloopError):
    """Bad credentials, or a missing/expired/revoked session or token."""

    code = "LL-AUTH"
    exit_code = 5
    http_status = 401


class RateLimited(LabelloopError):
    """Too many attempts; retry later."""

    code = "LL-RATE"
    exit_code = 5
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_secret(data_dir: Path, configured: str | None = None) -> bytes:
    """The instance secret: the configured one, else ``<data_dir>/secret.key`` (created 0600).

    Raises:
        InputRejected: the key file exists with permissions readable by others.
    """
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # written in full under a private name, then linked into place: server processes starting
        # together never read a half-written key, and the first link wins for all of them
        tmp = data_dir / f".secret.key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        raise InputRejected(str(path), "a secret key file readable by its owner only (chmod 600)", "wider permissions")
    return path.read_bytes().strip()


def create_user(store: Store, username: str, password: str, *, is_admin: bool = False) -> User:
    """Create a user with an argon2id password hash.

    Raises:
        InputRejected: the username or password is unacceptable.
        Conflict: the username is taken.
    """
    if not _USERNAME.match(username):
        raise InputRejected("username", "1-100 letters, digits or _.@- starting with a letter or digit", repr(username))
    if len(password) < MIN_PASSWORD:
        raise InputRejected(f"password of {username!r}", f"at least {MIN_PASSWORD} characters", f"{len(password)}")
    with store.transaction() as tx:
        return AccountRepo(tx.conn).create_user(username, _hasher.hash(password), is_admin=is_admin)


@dataclass(slots=True)
class LoginLimiter:
    """Sliding-window limits on log-in attempts, per (user name, address) and per address.

    They are counted in the database, so every server process keeps one limit: ``labelloop
    serve --workers N`` runs N processes, and a limit kept in memory would let an attacker try N
    times as often. Attempts older than the window are pruned as new ones come.
    Two processes counting the same address at the same instant may each let one attempt
    through at the limit: the limit holds to within the number of processes.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> store = Store.open("sqlite://", Path(tempfile.mkdtemp()))
        >>> a, b = LoginLimiter(store, per_user=2), LoginLimiter(store, per_user=2)
        >>> a.hit("x", "1.2.3.4"); b.hit("x", "1.2.3.4")  # two processes, one count
        >>> try:
        ...     a.hit("x", "1.2.3.4")
        ... except RateLimited as e:
        ...     e.http_status
        429
    """

    store: Store
    per_user: int = 5
    per_ip: int = 30
    window_s: float = 60.0
    clock: Callable[[], float] = time.time

    def hit(self, username: str, ip: str) -> None:
        """Count an attempt; raise :class:`RateLimited` once a limit is exceeded."""
        t = self.clock()
        with self.store.transaction() as tx:
            repo = LoginAttemptRepo(tx.conn)
            self._refuse_when_full(repo, username, ip, t)
            repo.add(username, ip, t)
            repo.prune(before=t - self.window_s)

    def check(self, username: str, ip: str) -> None:
        """Raise :class:`RateLimited` when a limit is already reached, without counting an attempt."""
        with self.store.read() as tx:
            self._refuse_when_full(LoginAttemptRepo(tx.conn), username, ip, self.clock())

    def clear(self) -> None:
        """Forget every attempt (tests; an administrator lifting the limit)."""
        with self.store.transaction() as tx:
            LoginAttemptRepo(tx.conn).clear()

    def _refuse_when_full(self, repo: LoginAttemptRepo, username: str, ip: str, t: float) -> None:
        seen = repo.recent(username, ip, since=t - self.window_s)
        for n, first, limit in ((seen.user, seen.user_first, self.per_user), (seen.ip, seen.ip_first, self.per_ip)):
            if n >= limit and first is not None:
                raise RateLimited("too many login attempts; retry later", int(first + self.window_s - t) + 1)


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A fresh session: its secret token (for the cookie) and its user."""

    token: str
    user: User


def login(
    store: Store,
    username: str,
    password: str,
    *,
    ip: str,
    limiter: LoginLimiter | None = None,
    replaces: str | None = None,
) -> LoginResult:
    """Check credentials and open a new session (a new token every time: no session fixation).

    Args:
        store: The store.
        username: The login name.
        password: The password as typed.
        ip: The client address (for the rate limit).
        limiter: The login rate limiter; None for no limit (CLI and tests).
        replaces: The session token the client already had, revoked on success.

    Raises:
        RateLimited: too many attempts for this username and address.
        AuthFailed: wrong username or password (the same message either way).
    """
    if limiter is not None:
        limiter.hit(username, ip)
    with store.read() as tx:
        found = AccountRepo(tx.conn).user_by_name(username)
    try:
        _hasher.verify(found[1] if found else _dummy_hash(), password)
        ok = found is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or found is None:
        raise AuthFailed("wrong username or password")
    user = found[0]
    token = secrets.token_urlsafe(32)
    with _changing_accounts(store) as tx:
        repo = AccountRepo(tx.conn)
        if replaces:
            repo.revoke_session(_digest(replaces))
        repo.add_session(user.id, _digest(token), now() + timedelta(hours=SESSION_HOURS))
        if _hasher.check_needs_rehash(found[1]):
            repo.set_password_hash(user.id, _hasher.hash(password))
    return LoginResult(token, user)


CALLER_TTL_S = 1.0
"""How long an authenticated caller may be served from memory (see :func:`cached_caller`)."""


@dataclass(frozen=True, slots=True)
class _Caller:
    user: User
    role: str | None
    generation: int
    at: float


_CALLERS: dict[tuple[int, str, bool, int], _Caller] = {}
_CALLERS_MAX = 10_000


def cached_caller(store: Store, token: str, *, session: bool, project_id: int = 0) -> tuple[User, str | None] | None:
    """The answer of a recent :func:`authenticate` for the same credential and project, or None.

    Every request authenticates, and the query (with its transaction) cost more than the rest of
    a short request's bookkeeping. An answer is reused only while both hold:

    * this process has made no account change since it was read (a revoked session or token, a
      new password, a membership added, changed or removed: :func:`accounts_generation`), so a
      revocation through this server takes effect on the very next request;
    * it is younger than :data:`CALLER_TTL_S` (1 s), the bound for changes made elsewhere (another
      worker process, the CLI) and for a session reaching its expiry time.

    Only successful look-ups are kept: an unknown or revoked credential is looked up every time.
    """
    hit = _CALLERS.get((id(store), _digest(token), session, project_id))
    if hit is None or hit.generation != accounts_generation() or time.monotonic() - hit.at >= CALLER_TTL_S:
        return None
    return hit.user, hit.role


def authenticate(store: Store, token: str, *, session: bool, project_id: int = 0) -> tuple[User, str | None]:
    """The user of a session cookie or API token, and their role in ``project_id`` (one query).

    The role is ``admin`` for instance admins (when the project exists) and None for non-members.
    The answer is remembered for :func:`cached_caller`.

    Raises:
        AuthFailed: unknown, expired or revoked credentials.
    """
    digest = _digest(token)
    generation, at = accounts_generation(), time.monotonic()  # taken before the read
    with store.read() as tx:
        found = AccountRepo(tx.conn).caller(digest, session=session, at=now(), project_id=project_id)
    if found is None:
        raise AuthFailed(
            "not logged in (session missing, expired or revoked)" if session else "invalid or revoked API token"
        )
    if len(_CALLERS) >= _CALLERS_MAX:
        _CALLERS.clear()
    _CALLERS[(id(store), digest, session, project_id)] = _Caller(found[0], found[1], generation, at)
    return found


@contextmanager
def _changing_accounts(store: Store) -> Iterator[UnitOfWork]:
    """A transaction that changes credentials or memberships.

    The repository advances the accounts generation as it writes; it is advanced again once the
    transaction has ended, so an answer read while the change was not yet committed is not kept.
    """
    try:
        with store.transaction() as tx:
            yield tx
    finally:
        advance_accounts_generation()


def authenticate_session(store: Store, token: str) -> User:
    """The user of a live session token.

    Raises:
        AuthFailed: unknown, expired or revoked.
    """
    with store.read() as tx:
        user = AccountRepo(tx.conn).session_user(_digest(token), now())
    if user is None:
        raise AuthFailed("not logged in (session missing, expired or revoked)")
    return user


def authenticate_token(store: Store, token: str) -> User:
    """The user of an API token.

    Raises:
        AuthFailed: unknown or revoked.
    """
    with store.read() as tx:
        user = AccountRepo(tx.conn).token_user(_digest(token))
    if user is None:
        raise AuthFailed("invalid or revoked API token")
    return user


def csrf_token(secret: bytes, session_token: str) -> str:
    """The CSRF token bound to a session: HMAC-SHA256(secret, session digest)."""
    return hmac.new(secret, _digest(session_token).encode(), hashlib.sha256).hexdigest()


def logout(store: Store, session_token: str) -> None:
    """Revoke the session."""
    with _changing_accounts(store) as tx:
        AccountRepo(tx.conn).revoke_session(_digest(session_token))


def change_password(store: Store, user_id: int, new_password: str, *, keep_session: str | None = None) -> None:
    """Set a new password and revoke every other session and all API tokens of the user.

    Raises:
        InputRejected: the password is too short.
    """
    if len(new_password) < MIN_PASSWORD:
        raise InputRejected("password", f"at least {MIN_PASSWORD} characters", f"{len(new_password)}")
    with _changing_accounts(store) as tx:
        repo = AccountRepo(tx.conn)
        repo.set_password_hash(user_id, _hasher.hash(new_password))
        repo.revoke_all(user_id, keep_session=_digest(keep_session) if keep_session else None)


def change_own_password(
    store: Store,
    user: User,
    current: str,
    new_password: str,
    *,
    ip: str,
    keep_session: str | None = None,
    limiter: LoginLimiter | None = None,
) -> None:
    """A user changes their own password: the current one must be given.

    Every other session and all API tokens of the user are revoked; the session that made the
    change (``keep_session``) stays open. Wrong guesses of the current password count against
    the same rate limit as logins (a right one does not).

    Raises:
        RateLimited: too many attempts for this user and address.
        PermissionDenied: the current password is wrong (403, so the session stays open).
        InputRejected: the new password is too short, or equals the current one.
    """
    if limiter is not None:
        limiter.check(user.username, ip)
    with store.read() as tx:
        found = AccountRepo(tx.conn).user_by_name(user.username)
    try:
        ok = found is not None and found[0].id == user.id and _hasher.verify(found[1], current)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        if limiter is not None:
            limiter.hit(user.username, ip)
        raise PermissionDenied("the current password is wrong")
    if new_password == current:
        raise InputRejected("new_password", "a password different from the current one", "the same password")
    change_password(store, user.id, new_password, keep_session=keep_session)


def create_token(store: Store, user: User, name: str) -> tuple[int, str]:
    """Create an API token; the secret is returned once and never stored."""
    token = "ll_" + secrets.token_urlsafe(32)
    with store.transaction() as tx:
        tid = AccountRepo(tx.conn).add_token(user.id, _digest(token), name[:200] or "token")
    return tid, token


def list_tokens(store: Store, user: User) -> list[dict[str, object]]:
    """The user's API tokens (never their secrets)."""
    with store.read() as tx:
        return AccountRepo(tx.conn).tokens(user.id)


def revoke_token(store: Store, user: User, token_id: int) -> None:
    """Revoke one of the user's API tokens.

    Raises:
        NotFound: no such token of this user.
    """
    with _changing_accounts(store) as tx:
        AccountRepo(tx.conn).revoke_token(user.id, token_id)


def add_member(store: Store, project_id: int, username: str, role: Role, quota: int | None = None) -> Membership:
    """Give a user a role in a project (or change it).

    Raises:
        NotFound: no such user.
    """
    with _changing_accounts(store) as tx:
        repo = AccountRepo(tx.conn)
        found = repo.user_by_name(username)
        if found is None:
            raise NotFound("user", username)
        repo.set_member(project_id, found[0].id, role, quota)
        m = repo.membership(project_id, found[0].id)
    assert m is not None
    return m


def remove_member(store: Store, project_id: int, user_id: int) -> None:
    """Remove a user from a project.

    Raises:
        NotFound: not a member.
    """
    with _changing_accounts(store) as tx:
        AccountRepo(tx.conn).remove_member(project_id, user_id)


def user_id_by_name(store: Store, username: str) -> int:
    """The id of a user.

    Raises:
        NotFound: no such user.
    """
    with store.read() as tx:
        found = AccountRepo(tx.conn).user_by_name(username)
    if found is None:
        raise NotFound("user", username)
    return found[0].id


def ensure_demo_admin(store: Store, project_ids: list[int], username: str = "demo") -> str:
    """Create (or reset) an admin with a fresh random password, member (manager) of the projects.

    Returns:
        The new password, to print once.
    """
    password = secrets.token_urlsafe(12)
    with _changing_accounts(store) as tx:
        repo = AccountRepo(tx.conn)
        found = repo.user_by_name(username)
        if found is None:
            user = repo.create_user(username, _hasher.hash(password), is_admin=True)
        else:
            user = found[0]
            repo.set_password_hash(user.id, _hasher.hash(password))
            repo.revoke_all(user.id)
        for pid in project_ids:
            repo.set_member(pid, user.id, Role.MANAGER)
    return password


def list_members(store: Store, project_id: int) -> list[Membership]:
    """A project's members."""
    with store.read() as tx:
        return AccountRepo(tx.conn).members(project_id)
