"""Make untrusted backend text safe to show to a user or hand to a model.

Replies, error messages and file names that come from the NemoVideo backend are
third-party text. Before they reach a terminal, an MCP client or a model they go
through :func:`clean_text`, which removes what can hide or disguise content:

* ANSI/VT escape sequences (CSI colours and cursor moves, OSC titles and
  hyperlinks, DCS/APC/PM/SOS strings, single-character ESC sequences);
* C0 and C1 control characters except ``\\n`` and ``\\t``;
* bidirectional overrides and isolates (the "Trojan Source" characters);
* zero-width and other invisible format characters, Unicode tag characters and
  long runs of variation selectors, all usable to smuggle hidden instructions;
* lone surrogates and non-characters, which break UTF-8 encoding later on.

Secrets are redacted first (:func:`~nemovideo_mcp.text.redact.redact`), before any cut.

Normal text - accents, CJK, Arabic, emoji (including ZWJ sequences such as
family emoji) - is kept as is.
"""

from __future__ import annotations

import re

from nemovideo_mcp.text.redact import redact

__all__ = ["DEFAULT_LIMIT", "clean_text", "strip_invisible"]

DEFAULT_LIMIT = 8000

# --- escape sequences ---------------------------------------------------------
# String sequences: OSC (ESC ] or C1 0x9D), DCS (ESC P / 0x90), SOS (ESC X / 0x98),
# PM (ESC ^ / 0x9E), APC (ESC _ / 0x9F). They end with BEL, ST (ESC \ or 0x9C).
# An unterminated one is removed up to the end of its line: a terminal would have
# swallowed that text too, and stopping at the newline keeps the rest of the reply.
_STRING_SEQ = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
# CSI: ESC [ or 0x9B, parameter bytes, intermediate bytes, one final byte (may be cut off).
_CSI_SEQ = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
# Other ESC sequences: ESC, intermediates, one final byte (nF / Fp / Fe / Fs forms).
_ESC_SEQ = r"\x1b[ -/]*[0-~]"
_ESCAPES = re.compile(f"{_STRING_SEQ}|{_CSI_SEQ}|{_ESC_SEQ}")

# --- single characters removed outright ---------------------------------------
_DROP_CHARS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 except \t \n (\r is normalised before), DEL, C1
    "\u061c"  # Arabic letter mark (bidi)
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers (render as blank)
    "\u180e"  # Mongolian vowel separator
    "\u200b\u200c\u200e\u200f"  # zero-width space / non-joiner, LRM / RLM (ZWJ handled below)
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u206f"  # bidi isolates, deprecated format characters
    "\ufeff"  # zero-width no-break space / BOM
    "\ufff9-\ufffb"  # interlinear annotation
    "\ufffe\uffff"  # non-characters
    "\ud800-\udfff"  # lone surrogates (a valid pair is one code point in a Python str)
    "\U000e0000-\U000e007f"  # tag characters ("ASCII smuggling")
)
_DROP = re.compile(f"[{_DROP_CHARS}]")

# Zero-width joiner: kept only inside emoji sequences (👨‍👩‍👧), dropped everywhere else.
_EMOJI = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u2600-\u27bf"
    "\u2934\u2935\u2b05-\u2b55\U0001f000-\U0001faff"
)
_ZWJ = re.compile(f"(?<![{_EMOJI}\ufe0f\U0001f3fb-\U0001f3ff])\u200d|\u200d(?![{_EMOJI}])")
# Variation selectors: one after a character is normal; a run of them encodes hidden bytes.
_VS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_VS_RUN = re.compile(f"([{_VS}])[{_VS}]+")

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n){2,}")
_TRAILING_WS = re.compile(r"[ \t]+$", re.MULTILINE)


def strip_invisible(text: str) -> str:
    """Remove escape sequences, control, bidi and invisible characters; keep ``\\n`` and ``\\t``.

    Line endings are normalised to ``\\n`` first. Does not truncate or reflow.
    """
    text = _NEWLINES.sub("\n", text)
    text = _ESCAPES.sub("", text)
    text = _DROP.sub("", text)
    # Dropping a joiner can bring two selectors together and collapsing selectors can orphan a
    # joiner, so repeat until nothing changes (each round only removes characters).
    while True:
        before = text
        text = _ZWJ.sub("", _VS_RUN.sub(r"\1", text))
        if text == before:
            return text


def _note(omitted: int) -> str:
    return f"\n[... reply truncated: {omitted:,} more characters]"


def _truncate(text: str, limit: int) -> str:
    note_room = len(_note(len(text)))  # an upper bound: the real count is smaller
    if limit < 2 * note_room:
        return text[:limit].rstrip()
    budget = limit - note_room
    window = text[:budget]
    cut = window.rfind("\n")
    if cut < budget * 0.8:  # no line break near the end: settle for a word boundary
        space = max(window.rfind(" "), window.rfind("\t"))
        cut = space if space >= budget * 0.8 else budget
    kept = text[:cut].rstrip()
    return kept + _note(len(text) - len(kept))


def clean_text(text: str, *, limit: int = DEFAULT_LIMIT) -> str:
    """Return *text* safe to display: see the module docstring for what is removed.

    Also trims trailing spaces on each line, collapses three or more blank lines
    into one and, when the result is longer than *limit* characters, cuts it at a
    line (or word) boundary and appends a note saying how much was left out. The
    result, note included, is never longer than *limit*. Never raises; applying it
    twice gives the same result as applying it once.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    limit = max(int(limit), 0)
    # Secrets go first, before anything could cut a token in half or turn it into something that no longer
    # looks like one; and again after invisible characters are gone (they can split a token to hide it).
    text = redact(strip_invisible(redact(text)))
    text = _TRAILING_WS.sub("", text)
    text = _BLANK_RUN.sub("\n\n", text)
    text = text.strip("\n").rstrip()
    if len(text) > limit:
        text = _truncate(text, limit)
    return text
