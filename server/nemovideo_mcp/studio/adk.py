"""ADK's `/run_sse` framing, as the cloud sends it: one `data: <json>` line per event, camelCase, no nulls."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

AUTHOR = "nemo_agent"


def encode(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


class Turn:
    """The events of one invocation; ids and timestamps as ADK writes them."""

    def __init__(self) -> None:
        self.invocation_id = "e-" + uuid.uuid4().hex[:12]

    def _event(self, content: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "author": AUTHOR,
            "invocationId": self.invocation_id,
            "id": uuid.uuid4().hex[:16],
            "timestamp": time.time(),
            "actions": {"stateDelta": {}, "artifactDelta": {}},
        }
        if content is not None:
            event["content"] = content
        event.update(fields)
        return event

    def text(self, text: str) -> dict[str, Any]:
        return self._event({"parts": [{"text": text}], "role": "model"})

    def function_call(self, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        call_id = "adk-" + uuid.uuid4().hex[:12]
        part = {"functionCall": {"id": call_id, "name": name, "args": args}}
        return self._event({"parts": [part], "role": "model"}, longRunningToolIds=[call_id]), call_id

    def function_response(
        self, call_id: str, name: str, response: dict[str, Any], draft: dict[str, Any] | None
    ) -> dict[str, Any]:
        part = {"functionResponse": {"id": call_id, "name": name, "response": response}}
        event = self._event({"parts": [part], "role": "user"})
        if draft is not None:
            event["actions"]["stateDelta"] = {"draft": draft}
        return event

    def error(self, message: str) -> dict[str, Any]:
        return {"error": message}
