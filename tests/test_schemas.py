"""The published output schemas: in their fast form, and accepting exactly what pydantic's own schemas accept."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel

from conftest import inprocess, png_bytes
from nemovideo_mcp.app.results import CreditsResult, ExportResult, GenerateResult, StateResult, UploadResult
from nemovideo_mcp.settings import Settings
from support.cloud import CloudQuirks

MODELS: dict[str, type[BaseModel]] = {
    "credits": CreditsResult,
    "state": StateResult,
    "upload": UploadResult,
    "generate": GenerateResult,
    "export": ExportResult,
}
# Values of every JSON type, put in place of each value of a real result in turn.
REPLACEMENTS: list[Any] = [None, 0, -3, 1.5, "", "x", True, [], [None], ["x"], {}, {"code": "timeout"}]


def _any_ofs(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("anyOf"), list):
            yield node["anyOf"]
        for value in node.values():
            yield from _any_ofs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _any_ofs(item)


def _variants(document: Any) -> Iterator[Any]:
    """The document itself, then a copy with each value anywhere in it replaced by each of REPLACEMENTS."""
    yield document
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            paths.append((*path, key))
            walk(value, (*path, key))

    walk(document, ())
    for path in paths:
        for replacement in REPLACEMENTS:
            changed = copy.deepcopy(document)
            node = changed
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = replacement
            yield changed


async def _published_and_results(
    settings: Settings, cloud: CloudQuirks, tmp_path: Path
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Each tool's published output schema, and real results of each (success and failure forms)."""
    cloud.balance = 100
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())
    calls: list[tuple[str, dict[str, Any]]] = [
        ("credits", {}),
        ("upload", {"sources": [str(photo), str(tmp_path / "missing.jpg")]}),
        ("generate", {"instruction": 'make a 2-second 720p video from my photos with the title "Hi"'}),
        ("state", {}),
        ("state", {"job_id": "no-such-job"}),
        ("export", {"wait_seconds": 120}),
        ("export", {"job_id": "no-such-job"}),
        ("generate", {"instruction": ""}),
    ]
    async with inprocess(settings) as client:
        published: dict[str, Any] = {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}
        results: dict[str, list[Any]] = {name: [] for name in MODELS}
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            results[name].append(result.structured_content)
    statuses = [r.get("status") for r in results["generate"] + results["export"]]
    assert statuses == ["succeeded", "failed", "succeeded", "failed"], statuses
    return published, results


async def test_output_schemas_are_published_in_the_fast_form(settings: Settings) -> None:
    async with inprocess(settings) as client:  # the schemas alone: no calls, no render
        published: dict[str, Any] = {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}
    assert set(published) == set(MODELS)
    for name, schema in published.items():
        Draft202012Validator.check_schema(schema)
        for branches in _any_ofs(schema):
            assert not all(set(b) == {"type"} for b in branches), (name, branches)  # a type list instead
            if {"type": "null"} in branches:
                assert branches[0] == {"type": "null"}, (name, branches)
    for name, schema in published.items():
        for model in [schema, *schema.get("$defs", {}).values()]:
            for field_name, field in model.get("properties", {}).items():
                assert "title" not in field, (name, field_name)  # pydantic's, made from the name: no news
    credits = published["credits"]["properties"]
    assert credits["available"]["type"] == ["integer", "null"]
    assert credits["error"]["anyOf"][0] == {"type": "null"}


async def test_fast_schemas_accept_exactly_what_pydantic_schemas_accept(
    settings: Settings, cloud: CloudQuirks, tmp_path: Path
) -> None:
    published, results = await _published_and_results(settings, cloud, tmp_path)
    checked = 0
    for name, model in MODELS.items():
        original = Draft202012Validator(model.model_json_schema())
        fast = Draft202012Validator(published[name])
        assert results[name], name
        for result in results[name]:
            for document in _variants(result):
                assert fast.is_valid(document) == original.is_valid(document), (name, document)
                checked += 1
    assert checked > 1000  # real results of every tool, each value replaced by each JSON type
