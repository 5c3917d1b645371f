"""Where the studio keeps its work: accounts, projects, their media, drafts and renders, on disk.

Layout under the studio folder (by default ``<state folder>/studio``)::

    accounts.json                 token hashes -> account (no token is ever stored)
    projects/<session>/project.json   the draft, the media list, the renders
    projects/<session>/media/<id>.<ext>   uploaded files, copied in
    projects/<session>/renders/<render id>.mp4

Every JSON write goes to a temporary file first and is renamed into place, so a crash
leaves the previous version. Storage is bounded: only the newest renders are kept
(per project and overall); media and drafts are never pruned, they are the user's work.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from nemovideo_mcp.media.formats import MediaKind

RenderState = Literal["pending", "processing", "completed", "failed", "cancelled"]
KEEP_RENDERS_PER_PROJECT = 3
DEFAULT_MAX_RENDER_BYTES = 2 * 1024**3


class Account(BaseModel):
    user_id: str
    registered: bool = False
    created_at: float = Field(default_factory=time.time)


class MediaRecord(BaseModel):
    id: str
    name: str  # as the user named it
    kind: MediaKind
    file: str  # relative to the project folder
    size: int
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None
    has_audio: bool = False
    uploaded_at: float = Field(default_factory=time.time)


class RenderRecord(BaseModel):
    id: str
    state: RenderState = "pending"
    progress: int = 0
    draft: dict[str, Any]
    file: str | None = None  # relative to the project folder, once completed
    url_key: str = Field(default_factory=lambda: secrets.token_urlsafe(12))
    error: str | None = None
    duration_s: float | None = None
    size: int | None = None
    created_at: float = Field(default_factory=time.time)
    finished_at: float | None = None


class Project(BaseModel):
    session_id: str
    task_id: str
    user_id: str
    task_name: str = "project"
    language: str = "en"
    created_at: float = Field(default_factory=time.time)
    draft: dict[str, Any] = Field(default_factory=dict)
    media: list[MediaRecord] = Field(default_factory=list)
    renders: dict[str, RenderRecord] = Field(default_factory=dict)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


class ProjectStore:
    """The studio's folder. Thread-safe; every method may touch the disk (call from worker threads)."""

    def __init__(self, root: Path, *, max_render_bytes: int = DEFAULT_MAX_RENDER_BYTES) -> None:
        self.root = root
        self.max_render_bytes = max_render_bytes
        self._lock = threading.RLock()
        self._projects: dict[str, Project] = {}
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._accounts: dict[str, Account] = self._load_accounts()

    # -- accounts --------------------------------------------------------------------

    def _load_accounts(self) -> dict[str, Account]:
        try:
            raw = json.loads((self.root / "accounts.json").read_text(encoding="utf-8"))
            return {k: Account.model_validate(v) for k, v in raw.items()}
        except (OSError, ValueError):
            return {}

    def _save_accounts(self) -> None:
        _write_json(self.root / "accounts.json", {k: v.model_dump() for k, v in self._accounts.items()})

    def new_anonymous_token(self) -> tuple[str, Account]:
        token = "nmv_usr_" + secrets.token_hex(16)
        return token, self.account_for(token, registered=False)

    def account_for(self, token: str, *, registered: bool = True) -> Account:
        """The account a token stands for, made on first sight: on loopback any token is a local user."""
        key = token_hash(token)
        with self._lock:
            account = self._accounts.get(key)
            if account is None:
                account = Account(user_id=("local_" if registered else "anon_") + key[:12], registered=registered)
                self._accounts[key] = account
                self._save_accounts()
            return account

    # -- projects --------------------------------------------------------------------

    def _project_dir(self, session_id: str) -> Path:
        if not session_id.isdigit() or len(session_id) > 40:  # our ids are numeric: nothing else names a folder
            raise KeyError(session_id)
        return self.root / "projects" / session_id

    def create_project(self, account: Account, task_name: str, language: str) -> Project:
        session_id = str(secrets.randbelow(9 * 10**18) + 10**18)
        project = Project(
            session_id=session_id,
            task_id="task_" + secrets.token_hex(8),
            user_id=account.user_id,
            task_name=task_name[:200] or "project",
            language=language[:20] or "en",
        )
        with self._lock:
            self._projects[session_id] = project
            self.save(project)
        return project

    def project(self, session_id: str) -> Project | None:
        with self._lock:
            if session_id in self._projects:
                return self._projects[session_id]
            try:
                path = self._project_dir(session_id) / "project.json"
                project = Project.model_validate_json(path.read_bytes())
            except (KeyError, OSError, ValueError):
                return None
            self._projects[session_id] = project
            return project

    def projects(self) -> Iterator[Project]:
        folder = self.root / "projects"
        for child in sorted(folder.iterdir()) if folder.is_dir() else []:
            if (project := self.project(child.name)) is not None:
                yield project

    def save(self, project: Project) -> None:
        with self._lock:
            _write_json(self._project_dir(project.session_id) / "project.json", project.model_dump(mode="json"))

    def project_dir(self, project: Project) -> Path:
        return self._project_dir(project.session_id)

    # -- media -----------------------------------------------------------------------

    def add_media(self, project: Project, source: Path, record: MediaRecord) -> MediaRecord:
        """Move an already-checked temporary file into the project (a copy of the user's file, never a link)."""
        folder = self.project_dir(project) / "media"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = Path(record.name).suffix.lower() or ".bin"
        target = folder / f"{record.id}{suffix}"
        shutil.move(str(source), target)
        record = record.model_copy(update={"file": str(target.relative_to(self.project_dir(project)))})
        with self._lock:
            project.media.append(record)
            self.save(project)
        return record

    def media_path(self, project: Project, record: MediaRecord) -> Path:
        return self.project_dir(project) / record.file

    # -- renders ---------------------------------------------------------------------

    def render_path(self, project: Project, render_id: str) -> Path:
        return self.project_dir(project) / "renders" / f"{render_id}.mp4"

    def find_render(self, render_id: str) -> tuple[Project, RenderRecord] | None:
        with self._lock:
            for project in list(self._projects.values()) + [p for p in self.projects()]:
                if render_id in project.renders:
                    return project, project.renders[render_id]
        return None

    def prune_renders(self) -> list[str]:
        """Delete the oldest finished renders beyond the limits; returns the ids removed."""
        removed: list[str] = []
        with self._lock:
            finished: list[tuple[float, Project, RenderRecord]] = []
            for project in self.projects():
                done = sorted(
                    (r for r in project.renders.values() if r.state in ("completed", "failed", "cancelled")),
                    key=lambda r: r.finished_at or r.created_at,
                )
                for old in done[:-KEEP_RENDERS_PER_PROJECT]:
                    removed.append(self._drop_render(project, old))
                finished += [(r.finished_at or r.created_at, project, r) for r in done[-KEEP_RENDERS_PER_PROJECT:]]
            total = sum(r.size or 0 for _, _, r in finished)
            for _, project, record in sorted(finished, key=lambda item: item[0]):
                if total <= self.max_render_bytes:
                    break
                total -= record.size or 0
                removed.append(self._drop_render(project, record))
        return removed

    def _drop_render(self, project: Project, record: RenderRecord) -> str:
        self.render_path(project, record.id).unlink(missing_ok=True)
        project.renders.pop(record.id, None)
        self.save(project)
        return record.id

    def size_bytes(self) -> int:
        total = 0
        for dirpath, _, names in os.walk(self.root):
            for name in names:
                try:
                    total += (Path(dirpath) / name).stat().st_size
                except OSError:
                    pass
        return total
