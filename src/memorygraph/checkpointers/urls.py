"""Parse and redact the backend URLs that `open_checkpointer` and `open_store` accept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from memorygraph.errors import BackendError

__all__ = ["SUPPORTED_URLS", "Target", "parse_url", "redact_url", "scrub_secrets"]

SUPPORTED_URLS = (
    '"memory", "sqlite:///relative/path.db", "sqlite:////absolute/path.db", '
    '"sqlite:///:memory:", "postgresql://user:password@host:5432/dbname" '
    '(or "postgres://..."), "redis://[:password@]host:6379/db" (or "rediss://...")'
)

_SQLITE_PREFIX = "sqlite:///"
_SQLITE_MEMORY = ":memory:"
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_REDIS_SCHEMES = ("redis", "rediss")


@dataclass(frozen=True)
class Target:
    """Where a URL points.

    Attributes:
        kind: The backend.
        location: For sqlite the database path (or ``:memory:``), for postgres
            and redis the URL itself, for memory an empty string.
    """

    kind: Literal["memory", "sqlite", "postgres", "redis"]
    location: str = ""


def parse_url(url: str) -> Target:
    """Return the backend a URL names, or raise `BackendError` saying which forms work."""
    if not isinstance(url, str):
        raise BackendError(f"backend URL must be a string, got {type(url).__name__}")
    if url == "memory":
        return Target("memory")
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "sqlite":
        return Target("sqlite", _sqlite_path(url))
    if sep and scheme in _POSTGRES_SCHEMES:
        return Target("postgres", url)
    if sep and scheme in _REDIS_SCHEMES:
        return Target("redis", url)
    raise BackendError(f"unsupported backend URL {redact_url(url)!r}; use one of {SUPPORTED_URLS}")


def _sqlite_path(url: str) -> str:
    rest = url[len("sqlite://") :]
    if not rest:
        # SQLAlchemy reads a bare "sqlite://" as an in-memory database.
        return _SQLITE_MEMORY
    if not rest.startswith("/"):
        raise BackendError(
            f"SQLite URL {redact_url(url)!r} names a host; use three slashes before a relative "
            'path ("sqlite:///data/memory.db") and four before an absolute one '
            '("sqlite:////var/lib/app/memory.db")'
        )
    path = rest[1:]
    if not path:
        raise BackendError(
            f"SQLite URL {url!r} has no database path; use {_SQLITE_PREFIX}path/to/file.db "
            f"or {_SQLITE_PREFIX}{_SQLITE_MEMORY}"
        )
    if "?" in path:
        raise BackendError(
            f"SQLite URL {redact_url(url)!r} has query parameters; none are supported"
        )
    return path


def _secrets(url: str) -> list[str]:
    found: list[str] = []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return found
    if password:
        found += [password, unquote(password)]
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if key.lower() == "password" and value:
            found.append(value)
    return [secret for secret in found if secret]


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return scrub_secrets(url, url)
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(key, "***" if key.lower() == "password" else value) for key, value in pairs],
            safe="*",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub_secrets(text: str, url: str) -> str:
    """Return ``text`` with every password found in ``url`` replaced by ``***``."""
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
