"""Server API keys: create (shown once), list, revoke, verify. Only a SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bilan_core.clock import now_ms
from bilan_core.errors import NotFoundError
from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.privacy.levels import check_capture_level
from bilan_core.store.engine import session_scope
from bilan_core.store.models import ApiKey, Project

KEY_START = "bilan_"
PREFIX_LENGTH = len(KEY_START) + 8
MAX_PROJECT_NAME = MAX_LABEL_LENGTH


class KeyInfo(BaseModel):
    """A key as it may be shown: never the key itself, only its prefix."""

    id: int
    project_id: int
    project: str
    prefix: str
    created_ms: int
    revoked_ms: int | None
    capture: str = "full"  # the project's maximum capture level


class CreatedKey(KeyInfo):
    """A new key; ``key`` is the secret, shown this once and stored nowhere."""

    key: str


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def clean_project_name(name: object) -> str:
    """A project name without surrounding spaces, 1 to 200 characters, else ValueError."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"project name must be a non-empty string, got {name!r}")
    if len(name.strip()) > MAX_PROJECT_NAME:
        raise ValueError(f"project name is longer than {MAX_PROJECT_NAME} characters")
    return name.strip()


def ensure_project(engine: Engine, *, name: str) -> Project:
    """The project with this name, created if it does not exist yet."""
    name = clean_project_name(name)
    with session_scope(engine) as session:
        project = session.exec(select(Project).where(Project.name == name)).first()
        if project is None:
            project = Project(name=name, created_ms=now_ms())
            session.add(project)
            session.flush()
        return project


def set_project_capture(engine: Engine, *, project: str, capture: str) -> Project:
    """Set the most a project's events may keep (a capture level); NotFoundError for an unknown project."""
    level = check_capture_level(capture)
    with session_scope(engine) as session:
        found = session.exec(select(Project).where(Project.name == clean_project_name(project))).first()
        if found is None:
            raise NotFoundError(f"no project is named {project!r}; `keys create --project` makes one")
        found.max_capture = level
        session.add(found)
        return found


def create_key(engine: Engine, *, project: str, capture: str | None = None) -> CreatedKey:
    """A new key for a project (created if needed, its capture level set when given); shown once."""
    level = None if capture is None else check_capture_level(capture)
    owner = ensure_project(engine, name=project)
    if level is not None:
        owner = set_project_capture(engine, project=owner.name, capture=level)
    assert owner.id is not None
    key = f"{KEY_START}{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
    row = ApiKey(project_id=owner.id, prefix=key[:PREFIX_LENGTH], key_hash=hash_key(key), created_ms=now_ms())
    with session_scope(engine) as session:
        session.add(row)
        session.flush()
        info = _info(row, owner.name, owner.max_capture)
    return CreatedKey(**info.model_dump(), key=key)


def _info(row: ApiKey, project: str, capture: str) -> KeyInfo:
    assert row.id is not None
    return KeyInfo(
        id=row.id,
        project_id=row.project_id,
        project=project,
        prefix=row.prefix,
        created_ms=row.created_ms,
        revoked_ms=row.revoked_ms,
        capture=capture,
    )


def list_keys(engine: Engine, *, project: str | None = None) -> list[KeyInfo]:
    """Every key (or one project's), oldest first, without secrets."""
    query = select(ApiKey, Project.name, Project.max_capture).join(
        Project, col(Project.id) == col(ApiKey.project_id)
    )
    if project is not None:
        query = query.where(Project.name == clean_project_name(project))
    with Session(engine) as session:
        rows = session.exec(query.order_by(col(ApiKey.id))).all()
    return [_info(key, name, capture) for key, name, capture in rows]


def revoke_key(engine: Engine, *, key_id: int) -> KeyInfo:
    """Revoke a key so it is refused from now on; NotFoundError if no key has this id."""
    with session_scope(engine) as session:
        found = session.exec(
            select(ApiKey, Project.name, Project.max_capture)
            .join(Project, col(Project.id) == col(ApiKey.project_id))
            .where(ApiKey.id == key_id)
        ).first()
        if found is None:
            raise NotFoundError(f"no API key has id {key_id}")
        row, name, capture = found
        if row.revoked_ms is None:
            row.revoked_ms = now_ms()
            session.add(row)
        return _info(row, name, capture)


def verify_key(engine: Engine, *, key: str) -> KeyInfo | None:
    """The live key matching ``key``, or None; hashes are compared in constant time."""
    digest = hash_key(key)
    query = (
        sa.select(
            col(ApiKey.id),
            col(ApiKey.project_id),
            col(Project.name),
            col(ApiKey.prefix),
            col(ApiKey.created_ms),
            col(ApiKey.revoked_ms),
            col(ApiKey.key_hash),
            col(Project.max_capture),
        )
        .join(Project, col(Project.id) == col(ApiKey.project_id))
        .where(col(ApiKey.prefix) == key[:PREFIX_LENGTH], col(ApiKey.revoked_ms).is_(None))
    )
    # A plain connection, not an ORM session: this runs on every request. In autocommit, so the
    # lookup is one round trip to the database, without a BEGIN before it and a ROLLBACK after.
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        candidates = connection.execute(query).all()
    for key_id, project_id, project, prefix, created_ms, revoked_ms, key_hash, capture in candidates:
        if hmac.compare_digest(key_hash, digest):
            return KeyInfo(
                id=key_id,
                project_id=project_id,
                project=project,
                prefix=prefix,
                created_ms=created_ms,
                revoked_ms=revoked_ms,
                capture=capture,
            )
    return None
