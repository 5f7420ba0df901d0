"""Log in and out, who am I, API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from labelloop.api.deps import SESSION_COOKIE, StoreDep, UserAuth
from labelloop.services import accounts

router = APIRouter(prefix="/api", tags=["auth"])


class LoginIn(BaseModel):
    """Credentials."""

    username: str = Field(max_length=100)
    password: str = Field(max_length=1000)


class PasswordIn(BaseModel):
    """The current password and the new one."""

    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


class TokenIn(BaseModel):
    """A name for a new API token."""

    name: str = Field(default="token", max_length=200)


@router.post("/auth/login")
def login(body: LoginIn, request: Request, response: Response, store: StoreDep) -> dict[str, Any]:
    """Open a session: sets the ``ll_session`` cookie (HttpOnly, SameSite=Strict); 429 when rate limited."""
    ip = request.client.host if request.client else "?"
    request.state.login_name = body.username[:100]  # (a refused login is logged under the name tried)
    result = accounts.login(
        store, body.username, body.password, ip=ip, limiter=request.app.state.login_limiter,
        replaces=request.cookies.get(SESSION_COOKIE),
    )  # fmt: skip
    response.set_cookie(
        SESSION_COOKIE, result.token, max_age=accounts.SESSION_HOURS * 3600, httponly=True, samesite="strict",
        path="/", secure=request.url.scheme == "https",
    )  # fmt: skip
    return {"user": result.user.to_json(), "csrf_token": accounts.csrf_token(request.app.state.secret, result.token)}


@router.post("/auth/logout", status_code=204)
def logout(auth: UserAuth, response: Response, store: StoreDep) -> Response:
    """Revoke the session and clear the cookie."""
    if auth.session:
        accounts.logout(store, auth.session)
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/auth/password", status_code=204)
def change_password(body: PasswordIn, auth: UserAuth, request: Request, store: StoreDep) -> Response:
    """Change one's own password (the current one is asked again).

    Every other session and every API token of the user is revoked; the session that asked stays
    open (with an API token, nothing stays open). A wrong current password is 403 and counts
    against the login rate limit (429 beyond it); a new password under 10 characters is 422.
    """
    accounts.change_own_password(
        store, auth.user, body.current_password, body.new_password, ip=request.client.host if request.client else "?",
        keep_session=auth.session, limiter=request.app.state.login_limiter,
    )  # fmt: skip
    return Response(status_code=204)


@router.get("/me")
def me(auth: UserAuth, request: Request) -> dict[str, Any]:
    """The logged-in user and the session's CSRF token (null for API tokens)."""
    token = accounts.csrf_token(request.app.state.secret, auth.session) if auth.session else None
    return {"user": auth.user.to_json(), "csrf_token": token}


@router.get("/tokens")
def list_tokens(auth: UserAuth, store: StoreDep) -> dict[str, Any]:
    """The caller's API tokens (names and dates; never the secrets)."""
    return {"tokens": accounts.list_tokens(store, auth.user)}


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, auth: UserAuth, store: StoreDep) -> dict[str, Any]:
    """A new API token; its secret is shown this once."""
    tid, token = accounts.create_token(store, auth.user, body.name)
    return {"id": tid, "token": token}


@router.delete("/tokens/{token_id}", status_code=204)
def delete_token(token_id: int, auth: UserAuth, store: StoreDep) -> Response:
    """Revoke one of the caller's tokens (another user's token is 404)."""
    accounts.revoke_token(store, auth.user, token_id)
    return Response(status_code=204)
