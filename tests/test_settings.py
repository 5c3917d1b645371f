"""Settings: environment and .env, one clear line per bad value, attribution from SKILL.md."""

from __future__ import annotations

from pathlib import Path

import pytest

import nemovideo_mcp
from nemovideo_mcp.attribution import attribution_headers, detect_platform, skill_info
from nemovideo_mcp.settings import PRODUCTION_API_URL, Settings, env_name, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings, error = load_settings()
    assert error is None
    assert settings.api_url == PRODUCTION_API_URL
    assert settings.state_dir == Path.home() / ".config" / "nemovideo"
    assert settings.token is None


def test_dotenv_never_overrides_real_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("NEMO_LANGUAGE=ja\nNEMO_POLL_MAX=12\n")
    monkeypatch.setenv("NEMO_LANGUAGE", "es")
    settings, error = load_settings()
    assert error is None
    assert settings.language == "es"  # the real variable wins
    assert settings.poll_max == 12  # .env fills what the environment leaves out (harmless settings only)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NEMO_API_URL", "ftp://nowhere", "http(s) URL"),
        ("NEMO_LANGUAGE", "english please", "language code"),
        ("NEMO_CLIENT_ID", "not-a-uuid", "UUID"),
        ("NEMO_DEFAULT_WAIT", "-5", "greater than or equal to 0"),
        ("NEMO_LOG_LEVEL", "LOUD", "DEBUG"),
        ("NEMO_TOKEN", "two words", "single token"),
    ],
)
def test_invalid_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    settings, error = load_settings()
    assert error is not None and isinstance(settings, Settings)
    assert variable in error.message and expected in error.message
    assert "\n" not in error.message
    if variable == "NEMO_TOKEN":
        assert value not in error.message


def test_relative_folders_are_resolved_against_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEMO_EXPORT_DIR", "Movies/out")
    settings, _ = load_settings()
    assert settings.export_dir == Path.home() / "Movies" / "out"


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    for field in Settings.model_fields:
        assert f"# {env_name(field)}=" in example, field


def test_version_and_attribution_come_from_skill_md() -> None:
    info = skill_info()
    assert info.name == "video-generator-for-free-ai"
    assert nemovideo_mcp.__version__ == info.version
    headers = attribution_headers("cursor")
    assert headers == {"X-Skill-Source": info.name, "X-Skill-Version": info.version, "X-Skill-Platform": "cursor"}


def test_platform_detection(tmp_path: Path) -> None:
    home = tmp_path
    assert detect_platform("clawhub", home=home, locations=[tmp_path / "x"]) == "clawhub"
    (home / ".clawhub" / "skills" / "v").mkdir(parents=True)
    (home / ".cursor" / "skills" / "v").mkdir(parents=True)
    assert detect_platform(None, home=home, locations=[home / ".clawhub" / "skills" / "v"]) == "clawhub"
    assert detect_platform(None, home=home, locations=[home / ".cursor" / "skills" / "v"]) == "cursor"
    assert detect_platform(None, home=home, locations=[tmp_path / "elsewhere"]) == "unknown"
