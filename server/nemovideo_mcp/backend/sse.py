"""Reading ADK's `/run_sse` event stream.

The framing (`data: <json>` + blank line, comments, garbage lines) is handled
by httpx-sse; this module turns each data payload into one typed event and
folds the events of a turn into what the user should read. It never raises
on odd input: an unreadable payload becomes an `Ignored` event.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from nemovideo_mcp.backend.models import MAX_ANSWER_BYTES, draft_problem, shape_problem
from nemovideo_mcp.text.redact import redact

# A trailing apology after real work is noise the vendor docs tell us to drop.
_TEMPORARY_ISSUE = re.compile(r"^\s*I encountered a temporary issue", re.IGNORECASE)


@dataclass(frozen=True)
class Text:
    text: str
    partial: bool


@dataclass(frozen=True)
class ToolActivity:
    """A functionCall/functionResponse: internal work, shown only as 'working on it'."""

    name: str
    phase: Literal["call", "response"]


@dataclass(frozen=True)
class StreamError:
    message: str
    code: str | None


@dataclass(frozen=True)
class Heartbeat:
    pass


@dataclass(frozen=True)
class Ignored:
    reason: str


@dataclass(frozen=True)
class DraftUpdate:
    draft: dict[str, Any]


Event = Text | ToolActivity | StreamError | Heartbeat | Ignored | DraftUpdate


def parse_data(data: str) -> list[Event]:
    """One SSE data payload -> the events it carries (a payload may hold text and a draft)."""
    payload = data.strip()
    if not payload:
        return [Heartbeat()]
    if len(payload) > MAX_ANSWER_BYTES:
        return [Ignored("too large")]
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return [Ignored("not JSON")]
    if shape_problem(obj) is not None:
        return [Ignored("nested too deeply")]
    if not isinstance(obj, dict):
        return [Ignored("not an object")]
    if obj.get("type") == "heartbeat":
        return [Heartbeat()]
    if obj.get("error"):
        return [StreamError(message=_short(obj["error"]), code=None)]
    if obj.get("errorCode"):
        return [StreamError(message=_short(obj.get("errorMessage") or obj["errorCode"]), code=_short(obj["errorCode"]))]

    events: list[Event] = []
    partial = obj.get("partial") is True
    content = obj.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str) and not part.get("thought"):
            events.append(Text(text=part["text"], partial=partial))
        for key, phase in (("functionCall", "call"), ("functionResponse", "response")):
            call = part.get(key)
            if isinstance(call, dict):
                events.append(ToolActivity(name=_short(call.get("name") or "tool"), phase=phase))  # type: ignore[arg-type]
    actions = obj.get("actions")
    delta = actions.get("stateDelta") if isinstance(actions, dict) else None
    if isinstance(delta, dict) and isinstance(delta.get("draft"), dict):
        # An oversized draft is not carried along: the state fetched after the turn reports it in words.
        if draft_problem(delta["draft"]) is None:
            events.append(DraftUpdate(draft=delta["draft"]))
        else:
            events.append(Ignored("draft too large"))
    return events or [Ignored("no content")]


def _short(value: object, limit: int = 500) -> str:
    # Redacted before the cut (half a token is still a secret) and before any caller reshapes it
    # (a tool name has its underscores turned into spaces, which no token pattern would match).
    text = value if isinstance(value, str) else json.dumps(value, default=str)[: limit * 4]
    return redact(text)[:limit]


@dataclass
class ReplyCollector:
    """Folds a turn's events into the reply text, counting the rest.

    ADK streaming sends `partial` chunks and then one full event with the
    same text; we keep the chunks only until the full event replaces them.
    """

    texts: list[str] = field(default_factory=list)
    pending_partial: str = ""
    tool_calls: list[str] = field(default_factory=list)
    heartbeats: int = 0
    ignored: int = 0
    errors: list[StreamError] = field(default_factory=list)
    draft: dict[str, Any] | None = None

    def feed(self, event: Event) -> None:
        match event:
            case Text(text=text, partial=True):
                self.pending_partial += text
            case Text(text=text, partial=False):
                self.pending_partial = ""
                if text.strip():
                    self.texts.append(text)
            case ToolActivity(name=name, phase="call"):
                self.tool_calls.append(name)
            case ToolActivity():
                pass
            case StreamError():
                self.errors.append(event)
            case Heartbeat():
                self.heartbeats += 1
            case DraftUpdate(draft=draft):
                self.draft = draft
            case Ignored():
                self.ignored += 1

    @property
    def text(self) -> str:
        texts = list(self.texts)
        if self.pending_partial.strip():
            texts.append(self.pending_partial)  # the stream ended before the full event
        if len(texts) > 1 and _TEMPORARY_ISSUE.match(texts[-1]):
            texts.pop()
        return "\n\n".join(t.strip() for t in texts if t.strip())
