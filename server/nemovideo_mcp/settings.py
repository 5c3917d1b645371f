"""Settings from the environment and an optional `.env` (real variables win).

A bad value must not make the server vanish from the client's tool list, so
`load_settings` never raises: it returns defaults plus one readable line
naming the variable, and every tool answers with that line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nemovideo_mcp.errors import SettingsError

PRODUCTION_API_URL = "https://mega-api-prod.nemovideo.ai"
PRODUCTION_WEB_URL = "https://nemovideo.com"
LOCAL_BACKEND = "local"


def default_state_dir() -> Path:
    return Path.home() / ".config" / "nemovideo"


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
    http_secret: SecretStr | None = Field(
        default=None, description="Bearer secret HTTP clients must send when serving on a non-loopback address."
    )

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

    @property
    def upload_dir_list(self) -> list[Path]:
        return [Path(p).expanduser().resolve() for p in self.upload_dirs.split(os.pathsep) if p.strip()]

    @property
    def uses_local_backend(self) -> bool:
        return self.api_url == LOCAL_BACKEND


def env_name(field: str) -> str:
    if field == "platform":
        return "NEMO_PLATFORM"
    return "NEMO_" + field.upper()


def load_settings(**overrides: object) -> tuple[Settings, SettingsError | None]:
    """Settings, or defaults plus the one-line error that every tool will answer with."""
    try:
        return Settings(**overrides), None  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "setting"
        name = env_name(field) if field in Settings.model_fields else field
        reason = str(first["msg"]).removeprefix("Value error, ")
        message = f"Invalid setting {name}: {reason}. Fix or unset {name} in the server's environment and restart it."
        return Settings.model_construct(), SettingsError(message)
