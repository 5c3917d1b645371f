"""Secrets never reach logs, tool results or error messages."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from nemovideo_mcp.text import redact as redact_module
from nemovideo_mcp.text.redact import MASK, redact, redact_value, register_secret, structlog_processor

SECRET = "s3cr3t-Value-For-Tests-9f8e7d"


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    redact_module._clear_registry_for_tests()
    yield
    redact_module._clear_registry_for_tests()


def test_registered_secret_is_masked_everywhere() -> None:
    register_secret(SECRET)
    assert redact(f"a {SECRET} b {SECRET}") == f"a {MASK} b {MASK}"
    assert SECRET not in redact(f"x{SECRET}y")


def test_url_encoded_and_json_escaped_forms_are_masked() -> None:
    secret = 'pa ss/wo"rd+12345'
    register_secret(secret)
    assert redact("q=pa%20ss%2Fwo%22rd%2B12345") == f"q={MASK}"
    assert redact('{"t": "pa ss/wo\\"rd+12345"}') == f'{{"t": "{MASK}"}}'


def test_short_empty_and_none_values_are_ignored() -> None:
    for value in (None, "", "   ", "short", "1234567"):
        register_secret(value)
    assert redact("short text 1234567") == "short text 1234567"


def test_whitespace_around_a_secret_is_ignored() -> None:
    register_secret(f"  {SECRET}\n")
    assert redact(f"[{SECRET}]") == f"[{MASK}]"


def test_longest_secret_wins_when_one_contains_another() -> None:
    register_secret("abcdefgh")
    register_secret("abcdefgh-ijklmnop")
    assert redact("abcdefgh-ijklmnop") == MASK


def test_token_shapes_are_masked_without_registration() -> None:
    text = "token nmv_usr_AbC123456789 claim clm_Zz9_8y7x6w5 link ?ct=clm_abcdefgh12"
    assert redact(text) == f"token {MASK} claim {MASK} link ?ct={MASK}"
    assert redact("nmv_short") == "nmv_short"  # too short to be a token


def test_bearer_credentials_are_masked() -> None:
    assert redact("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {MASK}"
    assert redact("{'authorization': 'bearer xyz'}") == f"{{'authorization': 'bearer {MASK}'}}"
    assert redact("Bearer%20abcdef") == f"Bearer%20{MASK}"


def test_redact_is_idempotent_and_ignores_non_strings() -> None:
    register_secret(SECRET)
    once = redact(f"Bearer {SECRET} nmv_123456789")
    assert redact(once) == once
    assert redact(5) == 5  # type: ignore[arg-type]


def test_register_is_thread_safe() -> None:
    secrets = [f"secret-number-{i:04d}-xyz" for i in range(200)]
    threads = [threading.Thread(target=register_secret, args=(s,)) for s in secrets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert redact(" ".join(secrets)) == " ".join([MASK] * len(secrets))


class Pair(NamedTuple):
    name: str
    value: str


def test_redact_value_recurses() -> None:
    register_secret(SECRET)
    data: dict[str, Any] = {
        "token": SECRET,
        SECRET: 1,
        "nested": [SECRET, ("ok", SECRET), {"deep": {SECRET}}],
        "n": 3,
        "f": 1.5,
        "b": True,
        "none": None,
        "pair": Pair("t", SECRET),
        "raw": b"bytes stay",
    }
    out = redact_value(data)
    assert SECRET not in repr(out)
    assert out["token"] == MASK
    assert out[MASK] == 1
    assert out["nested"][1] == ("ok", MASK)
    assert out["nested"][2]["deep"] == {MASK}
    assert out["pair"] == Pair("t", MASK)
    assert (out["n"], out["f"], out["b"], out["none"], out["raw"]) == (3, 1.5, True, None, b"bytes stay")


def test_redact_value_replaces_leaky_objects_only() -> None:
    register_secret(SECRET)
    error = ValueError(f"bad token {SECRET}")
    assert redact_value(error) == f"bad token {MASK}"
    harmless = ValueError("nothing here")
    assert redact_value(harmless) is harmless


def test_redact_value_handles_cycles() -> None:
    loop: list[Any] = []
    loop.append(loop)
    redact_value(loop)  # bounded depth, no RecursionError


def _pipeline(buffer: io.StringIO, *, with_format_exc_info: bool) -> Any:
    processors: list[Any] = [structlog.processors.add_log_level]
    if with_format_exc_info:
        processors.append(structlog.processors.format_exc_info)
    processors += [structlog_processor, structlog.processors.JSONRenderer()]
    # Own wrapper class: the global one may filter by level, as configured by an earlier test.
    return structlog.wrap_logger(
        structlog.PrintLogger(file=buffer),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )


@pytest.mark.parametrize("with_format_exc_info", [True, False])
def test_structlog_processor_scrubs_events_and_tracebacks(with_format_exc_info: bool) -> None:
    register_secret(SECRET)
    buffer = io.StringIO()
    log = _pipeline(buffer, with_format_exc_info=with_format_exc_info)
    log.info(f"using {SECRET}", token=SECRET, headers={"Authorization": "Bearer nmv_abcdefghijk"})
    try:
        raise RuntimeError(f"backend said: bad token {SECRET} / clm_abcdefghij")
    except RuntimeError:
        log.exception("failed")
    output = buffer.getvalue()
    assert SECRET not in output
    assert "nmv_abcdefghijk" not in output
    assert "clm_abcdefghij" not in output
    assert "RuntimeError" in output  # the traceback itself is kept
    assert output.count(MASK) >= 4


def test_structlog_processor_drops_false_exc_info() -> None:
    event = structlog_processor(None, "info", {"event": "x", "exc_info": False})
    assert event == {"event": "x"}


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(max_size=50), suffix=st.text(max_size=50))
def test_registered_secret_never_survives(prefix: str, suffix: str) -> None:
    register_secret(SECRET)
    out = redact(prefix + SECRET + suffix)
    assert SECRET not in out
    assert redact(out) == out


# What needs masking, in the forms it takes: each shape, a registered secret raw and with characters JSON escapes,
# and "Bearer" parted from its credential by whitespace that JSON writes as an escape.
_NEEDS_MASK = [
    "nmv_usr_0123456789",
    "clm_abcdefghij",
    SECRET,
    'pa ss/wo"rd\\12345',
    "Bearer\tabc.def",
    "bearer\nxyz",
    "Authorization: BEARER%20tok",
    "sécret-ünicode-1234",
]


@settings(max_examples=300, deadline=None)
@given(prefix=st.text(max_size=20), fragment=st.sampled_from(_NEEDS_MASK), suffix=st.text(max_size=20))
def test_json_look_never_misses_what_redact_masks(prefix: str, fragment: str, suffix: str) -> None:
    import json

    from nemovideo_mcp.text.redact import json_may_hold_secret

    for secret in (SECRET, 'pa ss/wo"rd\\12345', "sécret-ünicode-1234"):
        register_secret(secret)
    text = prefix + fragment + suffix
    if redact(text) == text:
        return
    for document in ({"message": text}, {text: 1}, {"a": [{"b": text}]}):
        for ascii_only in (False, True):
            assert json_may_hold_secret(json.dumps(document, ensure_ascii=ascii_only))


def test_tool_results_are_redacted_whatever_a_use_case_forgot() -> None:
    from nemovideo_mcp.app.results import CreditsResult
    from nemovideo_mcp.mcp.tools import _to_result

    register_secret(SECRET)
    leaky = CreditsResult(
        message=f"debug: {SECRET} and Bearer\tabc.def",
        notices=["nmv_usr_0123456789abcdef"],
        register_url=f"https://x.invalid/?t={SECRET}",
    )
    result = _to_result(leaky, is_error=False)
    shown = repr(result.structured_content) + repr(result.content)
    assert SECRET not in shown and "abc.def" not in shown and "nmv_usr_0123" not in shown
    assert shown.count(MASK) >= 4  # each of the three fields, both times the message appears
    clean = CreditsResult(message="Credits: 100 available.", available=100)
    assert _to_result(clean, is_error=False).structured_content == clean.model_dump(mode="json")
