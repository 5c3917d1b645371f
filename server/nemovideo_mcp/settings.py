"""Settings from the environment and two optional `.env` files (real variables win).

* ``<state folder>/.env`` (``~/.config/nemovideo/.env``, or ``$NEMO_STATE_DIR/.env``): the user's own
  file, read in full when it belongs to the user and nobody else may write to it;
* ``./.env`` in the working folder: clients start servers in whatever project is open, and a cloned
  repository's ``.env`` is written by someone else. It may only set harmless settings (pacing, language,
  log level): never where the token is sent, which token, what may be uploaded, where files land,
  or the HTTP secret (:data:`WORKING_FOLDER_SETTINGS`). Anything else in it is ignored, and said so.

A value that is a literal, unexpanded ``${...}`` (what some clients leave when a variable is missing)
counts as unset, and a note says so.

A bad value must not make the server vanish from the client's tool list, so
`load_settings` never raises: it returns defaults plus one readable line
naming the variable and where it was set, and every tool answers with that line.
"""

from __future__ import annotations

import os
import re
import stat
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from nemovideo_mcp.errors import SettingsError

PRODUCTION_API_URL = "https://mega-api-prod.nemovideo.ai"
PRODUCTION_WEB_URL = "https://nemovideo.com"
LOCAL_BACKEND = "local"


def default_state_dir() -> Path:
    return Path.home() / ".config" / "nemovideo"


ENVIRONMENT = "the server's environment"
USER_ENV_NAME = ".env"

#: What a `.env` in the working folder may set. Everything else decides where credentials go or what may
#: leave the machine (token, api_url, web_url, client_id, upload_dirs, allow_hidden_uploads, state_dir,
#: export_dir, max_download_mb, http_secret, http_clients): environment or the user's own file only.
WORKING_FOLDER_SETTINGS = frozenset(
    {
        "language",
        "log_level",
        "connect_timeout",
        "read_timeout",
        "stream_timeout",
        "stream_max",
        "get_retries",
        "rate_limit_delay",
        "default_wait",
        "still_working_interval",
        "poll_initial",
        "poll_max",
        "poll_factor",
        "render_timeout",
        "transfer_timeout",
        "transfer_min_rate_kb",
        "platform",  # only the X-Skill-Platform attribution header
    }
)

# "${env:NEMO_TOKEN}", "${NEMO_TOKEN}": a client's placeholder that was never filled in.
_UNEXPANDED = re.compile(r"\$\{[^}]*\}")

# What the sources saw while one Settings was being built: notes for the user, and where each value came from.
_NOTES: ContextVar[list[str] | None] = ContextVar("nemo_settings_notes", default=None)
_ORIGINS: ContextVar[dict[str, str] | None] = ContextVar("nemo_settings_origins", default=None)
_PENDING_NOTES: list[str] = []


def user_env_file() -> Path:
    """The user's own settings file: `.env` in the state folder (`NEMO_STATE_DIR` from the real environment)."""
    folder = os.environ.get("NEMO_STATE_DIR", "").strip()
    base = Path(folder).expanduser() if folder and not _UNEXPANDED.search(folder) else default_state_dir()
    return (base if base.is_absolute() else Path.home() / base) / USER_ENV_NAME


def _private_to_user(path: Path) -> str | None:
    """Why *path* cannot be trusted as the user's own file, or None (missing files are fine: None too)."""
    try:
        st = path.stat()
    except OSError:
        return None
    if os.name != "posix":
        return None
    if st.st_uid != os.getuid():
        return "it belongs to another user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "other users may write to it (chmod 600 it)"
    return None


def default_export_dir() -> Path:
    # The user's Videos folder exists on every desktop OS; in a container it is ~/Videos.
    return Path(platformdirs.user_videos_dir()) / "NemoVideo"


class Settings(BaseSettings):
    """Every knob, with the environment variable that sets it (see .env.example)."""

    model_config = SettingsConfigDict(
        env_prefix="NEMO_", env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    token: SecretStr | None = Field(
        default=None, description="Your NemoVideo token. Unset: a free anonymous token is obtained and kept."
    )
    api_url: str = Field(
        default=PRODUCTION_API_URL,
        description="Base URL of the NemoVideo API; `local` uses the local studio on this computer "
        "(free, offline, no account).",
    )
    web_url: str = Field(default=PRODUCTION_WEB_URL, description="NemoVideo web app, used in registration links.")
    client_id: str | None = Field(
        default=None, description="Stable client id for anonymous tokens (a UUID); generated once when unset."
    )
    language: str = Field(default="en", description="Language of the backend's replies: en, zh-CN, ja, es...")
    state_dir: Path = Field(
        default_factory=default_state_dir, description="Where the token, session and job journal are kept."
    )
    export_dir: Path = Field(
        default_factory=default_export_dir, description="Where exported MP4s are saved (relative paths: from $HOME)."
    )
    platform: str | None = Field(
        default=None,
        validation_alias=AliasChoices("NEMO_PLATFORM", "SKILL_SOURCE"),
        description="X-Skill-Platform override (clawhub, cursor...); unset: detected from the install location.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level (logs go to stderr)."
    )
    connect_timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds to connect to the API.")
    read_timeout: float = Field(default=60.0, gt=0, le=600, description="Seconds to wait for an API answer.")
    stream_timeout: float = Field(
        default=960.0, gt=0, le=3600, description="Longest silence on a generation stream before giving up."
    )
    stream_max: float = Field(
        default=1200.0, gt=0, le=7200, description="Longest a generation stream may run, keep-alives or not (s)."
    )
    get_retries: int = Field(default=3, ge=0, le=10, description="Retries of safe GET requests on 5xx/network.")
    rate_limit_delay: float = Field(default=30.0, ge=0, le=600, description="Pause before retrying after HTTP 429.")
    default_wait: float = Field(
        default=45.0, ge=0, le=600, description="How long a tool call waits before handing back a job id."
    )
    still_working_interval: float = Field(
        default=120.0, gt=0, le=3600, description="At most one 'Still working...' note per this many seconds."
    )
    poll_initial: float = Field(default=15.0, gt=0, le=60, description="Seconds before the first render status poll.")
    poll_max: float = Field(default=30.0, gt=0, le=300, description="Longest render status poll interval (s).")
    poll_factor: float = Field(default=1.5, ge=1, le=4, description="Growth of the poll interval per poll.")
    render_timeout: float = Field(
        default=1800.0, gt=0, le=86400, description="Give up on a render that has not finished after this long."
    )
    upload_dirs: str = Field(
        default="",
        description="Folders uploads may come from, separated by the OS path separator; empty: anywhere safe.",
    )
    allow_hidden_uploads: bool = Field(
        default=False, description="Allow uploads from hidden (dot) folders such as ~/.cache."
    )
    max_download_mb: int = Field(default=2048, ge=1, le=100_000, description="Largest export download (MB).")
    transfer_timeout: float = Field(
        default=3600.0, gt=0, le=86400, description="Longest any one upload or download may take (s)."
    )
    transfer_min_rate_kb: float = Field(
        default=8.0,
        ge=0,
        le=1_000_000,
        description="Slowest rate an upload or download may keep after the first read timeout (KB/s; 0: none).",
    )
    http_secret: SecretStr | None = Field(
        default=None, description="Bearer secret HTTP clients must send when serving on a non-loopback address."
    )
    http_clients: SecretStr | None = Field(
        default=None,
        description="HTTP mode for several people: name=secret pairs separated by commas. Each client sends its "
        "own secret as a Bearer token and gets its own identity, timeline, jobs and export folder.",
    )

    _notes: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, _Checked(settings_cls, env_settings, ENVIRONMENT)]
        working = getattr(dotenv_settings, "env_file", None)
        if working is None:  # Settings(_env_file=None): no files at all (tests, explicit callers)
            return tuple(sources)
        from pydantic_settings import DotEnvSettingsSource

        user_file = user_env_file()
        problem = _private_to_user(user_file)
        if problem is not None:
            _note(f"{user_file} was not read: {problem}.")
        elif user_file.is_file():
            sources.append(
                _Checked(settings_cls, DotEnvSettingsSource(settings_cls, env_file=user_file), str(user_file))
            )
        if isinstance(working, str | Path):
            here = Path(working).absolute()
            if here.is_file() and here.resolve() != user_file.resolve():
                inner = DotEnvSettingsSource(settings_cls, env_file=here)
                sources.append(_Checked(settings_cls, inner, str(here), allowed=WORKING_FOLDER_SETTINGS))
        return tuple(sources)

    @property
    def notes(self) -> list[str]:
        """What the user should know about how the settings were read (ignored or unexpanded values)."""
        return list(self._notes)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("api_url", "web_url")
    @classmethod
    def _http_url(cls, value: str, info: object) -> str:
        value = value.strip().rstrip("/")
        if value == LOCAL_BACKEND and getattr(info, "field_name", "") == "api_url":
            return value
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise ValueError("must be an http(s) URL such as https://mega-api-prod.nemovideo.ai")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", value):
            raise ValueError("must be a language code such as en, zh-CN, ja or es")
        return value

    @field_validator("client_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        import uuid

        if value is None or value == "":
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be a UUID such as 1b4e28ba-2fa1-11d2-883f-0016d3cca427") from None

    @field_validator("state_dir", "export_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Relative paths are resolved against $HOME, never the client's working directory.
        value = value.expanduser()
        return value if value.is_absolute() else Path.home() / value

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if any(c.isspace() for c in value.get_secret_value().strip()):
            raise ValueError("must be a single token without spaces (copy it again from your account page)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("http_clients")
    @classmethod
    def _clients(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_http_clients(value.get_secret_value())  # raises ValueError naming what to change
        return value

    @property
    def http_client_secrets(self) -> dict[str, str]:
        """Each HTTP client's name by its Bearer secret (empty: all clients share one identity)."""
        if self.http_clients is None:
            return {}
        return {secret: name for name, secret in parse_http_clients(self.http_clients.get_secret_value()).items()}

    @property
    def upload_dir_list(self) -> list[Path]:
        return [Path(p).expanduser().resolve() for p in self.upload_dirs.split(os.pathsep) if p.strip()]

    @property
    def uses_local_backend(self) -> bool:
        return self.api_url == LOCAL_BACKEND


_CLIENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MIN_SECRET_CHARS = 16


def parse_http_clients(text: str) -> dict[str, str]:
    """``alice=<secret>,bob=<secret>`` as {name: secret}; a ValueError says which entry to fix (never the secret)."""
    clients: dict[str, str] = {}
    for number, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        name, equals, secret = entry.partition("=")
        name, secret = name.strip(), secret.strip()
        if not equals or not _CLIENT_NAME.fullmatch(name):
            raise ValueError(
                f"entry {number} must be name=secret, the name in lower-case letters, digits, - or _ (up to 32)"
            )
        if len(secret) < MIN_SECRET_CHARS or any(c.isspace() for c in secret):
            raise ValueError(f'the secret of "{name}" must be at least {MIN_SECRET_CHARS} characters without spaces')
        if name in clients:
            raise ValueError(f'"{name}" is listed twice')
        if secret in clients.values():
            raise ValueError(f'"{name}" has the same secret as another client: give each person their own')
        clients[name] = secret
    if not clients:
        raise ValueError("list at least one name=secret pair, or unset it")
    return clients


def env_name(field: str) -> str:
    if field == "platform":
        return "NEMO_PLATFORM"
    return "NEMO_" + field.upper()


def _note(text: str) -> None:
    notes = _NOTES.get()
    if notes is not None and text not in notes:
        notes.append(text)


def _field_of(key: str) -> str | None:
    name = key.lower()
    if name in ("nemo_platform", "skill_source"):
        return "platform"
    name = name.removeprefix("nemo_")
    return name if name in Settings.model_fields else None


class _Checked(PydanticBaseSettingsSource):
    """Another source's values, minus unexpanded placeholders and (for the working folder) what it may not set."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        inner: PydanticBaseSettingsSource,
        where: str,
        allowed: frozenset[str] | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self._inner, self._where, self._allowed = inner, where, allowed

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # not used: __call__ reads the inner source whole

    def __call__(self) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        origins = _ORIGINS.get()
        for key, value in self._inner().items():
            name = _field_of(key)
            if name is None:
                continue
            if isinstance(value, str) and _UNEXPANDED.search(value):
                _note(
                    f"{env_name(name)} in {self._where} is an unexpanded placeholder (${{...}}), so it is treated as "
                    "unset. Set the variable it names, or write the value itself."
                )
                continue
            if self._allowed is not None and name not in self._allowed:
                _note(
                    f"{env_name(name)} in {self._where} was ignored: a .env in the working folder may not set where "
                    f"the token goes or what may leave this computer. Set it in the client's server settings or in "
                    f"{user_env_file()}."
                )
                continue
            kept[key] = value
            if origins is not None:
                origins.setdefault(name, self._where)
        return kept


def load_settings(**overrides: object) -> tuple[Settings, SettingsError | None]:
    """Settings, or defaults plus the one-line error that every tool will answer with.

    Notes on how the settings were read (ignored or unexpanded values) are logged and kept in `Settings.notes`.
    """
    notes: list[str] = []
    origins: dict[str, str] = {}
    notes_token, origins_token = _NOTES.set(notes), _ORIGINS.set(origins)
    try:
        settings: Settings = Settings(**overrides)  # type: ignore[arg-type]
        error: SettingsError | None = None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "setting"
        known = field in Settings.model_fields
        name = env_name(field) if known else field
        if not known and (mapped := _field_of(field)) is not None:
            field, name = mapped, env_name(mapped)
        reason = str(first["msg"]).removeprefix("Value error, ")
        where = origins.get(field, ENVIRONMENT)
        message = f"Invalid setting {name}: {reason}. Fix or unset {name} in {where} and restart it."
        settings, error = Settings.model_construct(), SettingsError(message)
    finally:
        _NOTES.reset(notes_token)
        _ORIGINS.reset(origins_token)
    settings._notes = notes
    # Logged by configure_logging, which every caller runs next: logging now could reach stdout (the protocol).
    _PENDING_NOTES[:] = notes
    return settings, error


def take_pending_notes() -> list[str]:
    """The notes of the last `load_settings`, once (for the log, after logging is set up)."""
    notes = list(_PENDING_NOTES)
    _PENDING_NOTES.clear()
    return notes
