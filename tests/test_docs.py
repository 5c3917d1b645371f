"""The README's generated sections (tool reference, settings table, exit codes) match the code now."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from nemovideo_mcp.cli import docs
from nemovideo_mcp.settings import Settings, env_name

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_generated_sections_are_current() -> None:
    current = README.read_text(encoding="utf-8")
    fresh = docs.render(current)
    if fresh != current:
        diff = "".join(difflib.unified_diff(current.splitlines(True), fresh.splitlines(True), "README.md", "generated"))
        pytest.fail("README.md is out of date; run `python -m nemovideo_mcp.cli.docs --write`:\n" + diff[:4000])


def test_reference_covers_every_tool_parameter_and_setting() -> None:
    text = README.read_text(encoding="utf-8")
    for tool in docs.live_tools():
        assert f"### `{tool.name}`" in text
        for parameter in tool.input_schema.get("properties", {}):
            assert f"| `{parameter}` |" in text
    for field in Settings.model_fields:
        assert f"`{env_name(field)}`" in text


def test_render_is_idempotent_and_needs_markers() -> None:
    sections = {"tools": "A\n", "settings": "B\n", "exit-codes": "C\n"}
    template = "".join(f"x <!-- {n}:start -->old<!-- {n}:end --> y\n" for n in sections)
    once = docs.render(template, sections)
    assert docs.render(once, sections) == once
    assert "old" not in once and "A\n" in once
    with pytest.raises(ValueError, match="tools:start"):
        docs.render("no markers", sections)


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("```", 2)[1]
    assert block.strip().splitlines() == [
        "python3 -m venv .venv && . .venv/bin/activate && python -m pip install . && nemovideo-mcp demo",
        'python3 -m venv .venv && . .venv/bin/activate && python -m pip install -e ".[dev]" && python -m pytest -q',
    ]
    assert text.index("```") < text.index("## ")


def test_env_example_is_generated_from_the_settings_model() -> None:
    assert (README.with_name(".env.example")).read_text(encoding="utf-8") == docs.env_example()
