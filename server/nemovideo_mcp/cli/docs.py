"""Generated parts of the README: the tool reference (from the live tool schemas),
the settings table (from the settings model) and the CLI exit codes.

Each lives between marker comments such as `<!-- tools:start -->` and
`<!-- tools:end -->`. `python -m nemovideo_mcp.cli.docs --write` refreshes
README.md; `--check` (the default) exits 1 when it is out of date, and a test
does the same.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from pydantic.fields import FieldInfo

from nemovideo_mcp.settings import Settings, env_name

README = Path(__file__).resolve().parents[3] / "README.md"

# Defaults computed at run time (they depend on the machine): shown in words.
FACTORY_DEFAULTS = {
    "state_dir": "`~/.config/nemovideo`",
    "export_dir": "your Videos folder + `/NemoVideo` (e.g. `~/Videos/NemoVideo`)",
}


async def list_live_tools() -> list[Any]:
    """The tools exactly as a client sees them in `tools/list`."""
    from nemovideo_mcp.mcp.tools import build_server

    server = build_server(Settings.model_construct())
    return list(await server.list_tools())


def live_tools() -> list[Any]:
    return anyio.run(list_live_tools)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _type_of(schema: dict[str, Any]) -> tuple[str, bool]:
    """A short type ('string, max 64 chars') and whether null is allowed."""
    options = schema.get("anyOf") or [schema]
    nullable = any(o.get("type") == "null" for o in options)
    parts = []
    for option in options:
        kind = option.get("type")
        if kind == "null" or kind is None:
            continue
        if kind == "array":
            item, _ = _type_of(option.get("items", {}))
            text = f"array of {item}"
            if "minItems" in option or "maxItems" in option:
                text += f" ({option.get('minItems', 0)}-{option.get('maxItems', 'any')} items)"
        else:
            text = str(kind)
            limits = []
            if option.get("minLength", 0) > 0 and "maxLength" in option:
                limits.append(f"{option['minLength']}-{option['maxLength']} chars")
            elif "maxLength" in option:
                limits.append(f"max {option['maxLength']} chars")
            if "minimum" in option or "maximum" in option:
                limits.append(f"{option.get('minimum', '')}-{option.get('maximum', '')}")
            if limits:
                text += " (" + ", ".join(limits) + ")"
        parts.append(text)
    return " or ".join(parts) or "any", nullable


def tool_reference(tools: list[Any] | None = None) -> str:
    tools = tools if tools is not None else live_tools()
    lines: list[str] = []
    for tool in tools:
        lines.append(f"### `{tool.name}` — {tool.title or tool.name}")
        lines.append("")
        lines.append(tool.description or "")
        lines.append("")
        hints = tool.annotations
        if hints is not None:
            flags = [
                "read-only" if hints.read_only_hint else "changes things",
                "idempotent" if hints.idempotent_hint else "not idempotent",
            ]
            lines.append(f"*{', '.join(flags)}*")
            lines.append("")
        props: dict[str, Any] = tool.input_schema.get("properties", {})
        required = set(tool.input_schema.get("required", []))
        if props:
            lines.append("| parameter | type | required | default | description |")
            lines.append("|---|---|---|---|---|")
            for name, schema in props.items():
                kind, _ = _type_of(schema)
                default = "" if name in required or "default" not in schema else f"`{schema['default']}`"
                default = default.replace("`None`", "`null`").replace("`False`", "`false`")
                lines.append(
                    f"| `{name}` | {_cell(kind)} | {'yes' if name in required else 'no'} | {default} "
                    f"| {_cell(schema.get('description', ''))} |"
                )
        else:
            lines.append("No parameters.")
        lines.append("")
        output = (tool.output_schema or {}).get("properties", {})
        if output:
            lines.append("Returns (structured content): " + ", ".join(f"`{n}`" for n in output) + ".")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _default(name: str, field: FieldInfo) -> str:
    if name in FACTORY_DEFAULTS:
        return FACTORY_DEFAULTS[name]
    value = field.default
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def settings_table() -> str:
    lines = ["| variable | default | description |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        variable = f"`{env_name(name)}`"
        if name == "platform":
            variable += " (or `SKILL_SOURCE`)"
        lines.append(f"| {variable} | {_default(name, field)} | {_cell(field.description or '')} |")
    return "\n".join(lines) + "\n"


def exit_codes_table() -> str:
    from nemovideo_mcp.cli.commands import EXIT_CODES

    lines = ["| code | meaning |", "|---|---|"]
    lines += [f"| {code} | {_cell(meaning)} |" for code, meaning in EXIT_CODES]
    return "\n".join(lines) + "\n"


def env_example() -> str:
    """The whole `.env.example`: every setting, commented out, with its default and what it does."""
    lines = [
        "# NemoVideo MCP server settings. Copy to ~/.config/nemovideo/.env (yours, mode 600) or set them in",
        '# your MCP client\'s "env" block. Real environment variables always win over this file. A .env in',
        "# the working folder may only set pacing, language and log level (see SECURITY.md).",
        "# Every setting is optional: with none at all the server uses a free anonymous account.",
        "# Generated by `python -m nemovideo_mcp.cli.docs --write` from the settings model.",
        "",
    ]
    shown_factory = {"state_dir": "~/.config/nemovideo", "export_dir": "~/Videos/NemoVideo"}
    for name, field in Settings.model_fields.items():
        default = shown_factory.get(name, "" if field.default is None else str(field.default))
        lines += [f"# {field.description}", f"# {env_name(name)}={default}", ""]
    return "\n".join(lines)


GENERATED_NOTE = "<!-- generated by `python -m nemovideo_mcp.cli.docs --write`; do not edit by hand -->"

SECTIONS: dict[str, Callable[[], str]] = {
    "tools": tool_reference,
    "settings": settings_table,
    "exit-codes": exit_codes_table,
}


def render(text: str, sections: dict[str, str] | None = None) -> str:
    """`text` with every generated section replaced by its current content."""
    sections = sections if sections is not None else {name: make() for name, make in SECTIONS.items()}
    for name, body in sections.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, found, rest = text.partition(start)
        if not found or end not in rest:
            raise ValueError(f"README has no {start} ... {end} markers")
        _, _, tail = rest.partition(end)
        text = f"{head}{start}\n{GENERATED_NOTE}\n\n{body}\n{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nemovideo_mcp.cli.docs", description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the generated README sections")
    parser.add_argument("--readme", type=Path, default=README, help="README to check or write")
    args = parser.parse_args(argv)
    env_file = args.readme.with_name(".env.example")
    if args.write:
        env_file.write_text(env_example(), encoding="utf-8")
    elif not env_file.is_file() or env_file.read_text(encoding="utf-8") != env_example():
        sys.stderr.write(f"{env_file} is out of date: run python -m nemovideo_mcp.cli.docs --write" + "\n")
        return 1
    current = args.readme.read_text(encoding="utf-8")
    fresh = render(current)
    if args.write:
        if fresh != current:
            args.readme.write_text(fresh, encoding="utf-8")
            sys.stderr.write(f"Updated {args.readme}" + "\n")
        else:
            sys.stderr.write(f"{args.readme} is up to date" + "\n")
        return 0
    if fresh != current:
        sys.stdout.writelines(
            difflib.unified_diff(current.splitlines(True), fresh.splitlines(True), str(args.readme), "generated")
        )
        sys.stderr.write("README is out of date: run python -m nemovideo_mcp.cli.docs --write" + "\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
