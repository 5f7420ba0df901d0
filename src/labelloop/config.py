"""Settings: one typed object, built once by the CLI or the app factory and passed down.

Values come from arguments, then ``LABELLOOP_*`` environment variables, then defaults.

Example:
    >>> s = Settings(data_dir="/tmp/ll")
    >>> s.database_url_or_default().startswith("sqlite:///")
    True
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """labelloop settings.

    Attributes:
        data_dir: Blobs, the default SQLite database and temporary files.
        database_url: A SQLAlchemy URL (``postgresql+psycopg://user@host/db``); default SQLite.
        host: Where ``labelloop serve`` listens.
        port: Its port.
        secret_key: The instance secret (CSRF tokens); None keeps a generated one in
            ``<data_dir>/secret.key`` (0600).
        release_key: The Ed25519 key (PEM) that signs releases; default ``<data_dir>/keys/release-ed25519.pem``.
        outbound_allow: Admin allow-list for outbound calls to model servers and LLM endpoints
            (IPs, CIDR networks, host names) that would otherwise be refused as private,
            loopback or link-local (see :mod:`labelloop.net.ssrf`). JSON list in the environment.
        max_upload_bytes: The largest file an import upload may be (the body of
            ``POST /api/projects/{pid}/imports``; every other request is limited to 8 MiB).
        job_workers: Background jobs (imports, exports) that run at once; more wait queued.
    """

    model_config = SettingsConfigDict(env_prefix="LABELLOOP_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path.home() / ".labelloop")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str | None = Field(default=None, repr=False)
    release_key: Path | None = None
    outbound_allow: list[str] = Field(default_factory=list)
    max_upload_bytes: int = Field(default=2 * 2**30, ge=1)
    job_workers: int = Field(default=2, ge=1, le=32)

    def database_url_or_default(self) -> str:
        """The configured URL, or SQLite inside ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'labelloop.db'}"
