"""Keep secrets out of logs, tool results, error messages and progress notes.

Two layers:

* a process-wide registry of the exact secrets in use (the NemoVideo token, a
  claim token, anything else sensitive): :func:`register_secret` as soon as a
  value is read or received;
* shape-based masking for anything that looks like a NemoVideo token
  (``nmv_...``), a claim token (``clm_...``) or an HTTP ``Bearer`` credential,
  so a token that was never registered (a new one from the backend, one pasted
  into an error body) is still hidden.

Everything is replaced with ``[redacted]``. :func:`redact` is idempotent.

Note: a claim link (``.../claim?ct=clm_...``) is itself a credential and is
masked too; code that deliberately shows it to the user must build that text
after redaction, never pass it through a redacting path.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

import structlog

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "json_may_hold_secret",
    "redact",
    "redact_value",
    "register_secret",
    "structlog_processor",
]

MASK = "[redacted]"
MIN_SECRET_LENGTH = 8
_MAX_DEPTH = 32

# Token shapes. No leading word boundary on purpose: over-masking "xnmv_..." is fine.
_SHAPES = re.compile(r"(?:nmv|clm)_[A-Za-z0-9_]{8,}")
# "Bearer <credential>" (any case, as in an Authorization header or a repr of one).
_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)(?!\[redacted\])[^\s\"'<>,;)}\]]+")

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_known: tuple[str, ...] = ()  # the same secrets, for a quick look (swapped whole, never changed in place)


def _variants(value: str) -> set[str]:
    """The secret as written, URL-encoded and JSON-escaped (each is how it can show up in text)."""
    variants = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
    return {v for v in variants if len(v) >= MIN_SECRET_LENGTH}


def register_secret(value: str | None) -> None:
    """Remember *value* so that :func:`redact` masks it from now on, in every thread.

    ``None``, empty and short values (under 8 characters once surrounding
    whitespace is stripped) are ignored: masking them would mangle ordinary text.
    """
    if not isinstance(value, str):
        return
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH:
        return
    global _pattern, _known
    with _lock:
        new = _variants(value) - _secrets
        if not new:
            return
        _secrets.update(new)
        # Longest first so a secret that contains another is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))
        _known = tuple(ordered)


def _clear_registry_for_tests() -> None:
    global _pattern, _known
    with _lock:
        _secrets.clear()
        _pattern = None
        _known = ()


def redact(text: str) -> str:
    """Return *text* with every registered secret and every token-shaped string masked."""
    if not isinstance(text, str) or not _may_hold_secret(text):
        return text
    pattern = _pattern  # read once: a concurrent register_secret swaps it atomically
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _SHAPES.sub(MASK, text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def _may_hold_secret(text: str) -> bool:
    """A quick look first: most text holds no "_" (every token shape has one), no "bearer" and no known secret,
    and three substring tests cost a small part of three regex passes over it."""
    return "_" in text or _names_bearer_or_secret(text)


def json_may_hold_secret(encoded: str) -> bool:
    """Whether any key or string inside this JSON text could need masking; False means none does.

    One look over the whole text instead of one per string. A token shape and a registered secret show up in the
    JSON as they are (token characters are never escaped; a secret's JSON-escaped form is registered too); "bearer"
    alone sends the value to the full walk, since an escaped tab or newline could stand between it and a credential.
    """
    return _SHAPES.search(encoded) is not None or _names_bearer_or_secret(encoded)


def _names_bearer_or_secret(text: str) -> bool:
    return "bearer" in text.lower() or any(secret in text for secret in _known)


def _redact_object(obj: object) -> object:
    """An object of unknown type: keep it unless its str() or repr() would leak."""
    for render in (str, repr):
        try:
            shown = render(obj)
        except Exception:
            continue
        cleaned = redact(shown)
        if cleaned != shown:
            return cleaned
    return obj


def redact_value(obj: Any, _depth: int = 0) -> Any:
    """Redact strings inside *obj*, recursing through dicts, lists, tuples and sets.

    Keys are redacted too. Numbers, booleans, ``None`` and bytes are returned as
    they are. Any other object is returned unchanged unless its ``str()`` or
    ``repr()`` contains a secret, in which case the redacted string replaces it
    (an exception whose message quotes a token, a request object, ...).
    """
    if isinstance(obj, str):
        return redact(obj)
    if obj is None or isinstance(obj, bool | int | float | bytes):
        return obj
    if _depth >= _MAX_DEPTH:
        return "[...]"
    if isinstance(obj, Mapping):
        return {redact_value(k, _depth + 1): redact_value(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_value(v, _depth + 1) for v in obj]
    if isinstance(obj, tuple):
        items = [redact_value(v, _depth + 1) for v in obj]
        try:
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        except TypeError:
            return tuple(items)
    if isinstance(obj, set | frozenset):
        return type(obj)(redact_value(v, _depth + 1) for v in obj)
    return _redact_object(obj)


def structlog_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor that redacts every key and value of the event.

    Order matters: put it **last before the renderer**, after
    ``structlog.processors.format_exc_info`` / ``dict_tracebacks`` and any
    processor that adds text (``add_log_level``, ``TimeStamper``,
    ``StackInfoRenderer``...), so what it sees is what gets written::

        structlog.configure(processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            redact.structlog_processor,          # last before the renderer
            structlog.processors.JSONRenderer(),
        ])

    As a safety net, an ``exc_info`` still present (because ``format_exc_info``
    was left out or placed after this processor) is rendered here into the
    ``exception`` text and redacted, so a renderer never formats a raw traceback
    whose locals or messages could quote a token.
    """
    if event_dict.get("exc_info"):
        event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
    else:
        event_dict.pop("exc_info", None)
    cleaned: dict[str, Any] = redact_value(dict(event_dict))
    event_dict.clear()
    event_dict.update(cleaned)
    return event_dict
