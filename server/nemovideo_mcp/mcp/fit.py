"""Keep a tool result within what an agent can take in.

A timeline of thousands of clips is legal, but its raw draft as a tool result
is megabytes that fill the agent's context (clients cut results at about
25,000 tokens) and stall the transport. Results keep their shape (the output
schema still holds: an optional field left out, a list shortened, a long text
cut) and say what was left out, so the agent knows the answer is partial.
"""

from __future__ import annotations

import json
from typing import Any

from nemovideo_mcp.text.sizes import human_size

#: Text plus structured content, as JSON characters: about 25,000 tokens, what clients show in full.
MAX_RESULT_CHARS = 100_000
#: The message alone (it is sent twice: as the text block and inside the structured content).
MAX_MESSAGE_CHARS = 20_000
# Fields that may be left out whole, largest first: the raw draft repeats what the summary already says.
_OPTIONAL = ("draft",)


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str))


def fit_result(data: dict[str, Any], limit: int = MAX_RESULT_CHARS, *, size: int | None = None) -> dict[str, Any]:
    """*data* (a result's JSON form) within *limit*, with a note in its message on what was left out.

    *size*, when the caller already encoded *data*, is its length as JSON: a result that fits comes back as it is.
    """
    message = str(data.get("message") or "")
    if size is not None and len(message) <= MAX_MESSAGE_CHARS and size + len(message) <= limit:
        return data
    notes: list[str] = []
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
        notes.append("the text is cut short")
    data = {**data, "message": message}
    if _size(data) + len(message) <= limit:
        return _with_notes(data, notes)
    for name in _OPTIONAL:
        if data.get(name) is not None:
            notes.append(f"the raw {name} ({human_size(_size(data[name]))}) is left out")
            data[name] = None
    shortened: dict[str, tuple[int, int]] = {}
    for _ in range(64):  # each round halves the largest list: a few rounds suffice for any size
        if _size(data) + len(message) <= limit:
            break
        found = _largest_list(data, ())
        if found is None or len(found[1]) <= 1:
            break
        path, items = found
        keep = len(items) // 2
        label = str(next((key for key in reversed(path) if isinstance(key, str)), "items"))
        shortened[label] = (keep, shortened.get(label, (0, len(items)))[1])
        _set(data, path, items[:keep])
    for label, (keep, total) in shortened.items():
        notes.append(f"only the first {keep:,} of {total:,} {label} are listed")
    return _with_notes(data, notes)


def _with_notes(data: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    if notes:
        data["message"] = f"{data['message']}\n(Shortened to fit a tool result: {'; '.join(notes)}.)".lstrip()
    return data


def _largest_list(value: Any, path: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], list[Any]] | None:
    """The list with the most JSON characters anywhere in *value*, and where it is."""
    best: tuple[tuple[str | int, ...], list[Any]] | None = None
    best_size = 0
    children: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
        if len(value) > 1:
            best, best_size = (path, value), _size(value)
    for key, child in children:
        if isinstance(child, dict | list):
            found = _largest_list(child, (*path, key))
            if found is not None and (size := _size(found[1])) > best_size:
                best, best_size = found, size
    return best


def _set(root: Any, path: tuple[str | int, ...], value: Any) -> None:
    target = root
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
