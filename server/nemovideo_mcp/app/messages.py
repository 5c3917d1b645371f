"""Errors in words, for the codes whose right sentence depends on the user.

Most raise sites already know everything their sentence needs and write it.
These codes get their words here instead, chosen from the code and the error's
fields (never from its text), because the advice depends on who the user is
(anonymous or registered, how many credits are left) or on where the error
came from (an export's 402 is about the plan, not credits).
"""

from __future__ import annotations

from dataclasses import dataclass

from nemovideo_mcp.errors import NemoError
from nemovideo_mcp.local.files import ACCEPTED_EXTENSIONS, MAX_UPLOAD_BYTES

SUPPORTED_FORMATS = ", ".join(sorted({ext.lstrip(".") for ext in ACCEPTED_EXTENSIONS}))


@dataclass(frozen=True)
class Who:
    anonymous: bool | None
    user_id: str | None
    web_url: str
    credits_left: int | None = None  # the balance when the backend said 2001, if it could be read

    def register_link(self) -> str:
        base = f"{self.web_url}/register"
        return f"{base}?bind={self.user_id}" if self.user_id else base


def in_words(error: NemoError, who: Who) -> str:
    """The one message the agent shows its user for this error."""
    match error.code:
        case "no_credits":
            # 2001 also comes with credits left when the work costs more than them: say so, not "out of credits".
            short = (
                f"This needs more credits than the {who.credits_left} left (creating a video costs more than an "
                "edit; an edit may still fit). "
                if who.credits_left
                else ""
            )
            if who.anonymous is False:
                lead = short or "You are out of NemoVideo credits. "
                return f"{lead}Top up credits in your account at {who.web_url}."
            lead = short or "The free credits are used up. "
            return f"{lead}Register (free) to get more and keep this project: {who.register_link()}"
        case "plan_limit":
            return (
                "Export is not included in the current plan. This is a plan limit, not a lack of credits: "
                f"register or upgrade your plan to unlock export ({who.register_link()}). Or make the video for "
                "free on this computer with the local studio: set NEMO_API_URL=local in the server's environment "
                "and restart it (it plans and renders offline; upload your media there again)."
            )
        case "unsupported_file":
            return f"NemoVideo cannot use this file type. Supported formats: {SUPPORTED_FORMATS}."
        case "file_too_large":
            limit = MAX_UPLOAD_BYTES // (1024 * 1024)
            return (
                f"The file is larger than NemoVideo's {limit} MB limit per file. Compress it or trim it "
                "(for example to a shorter clip or a lower resolution) and upload it again."
            )
        case "auth_failed" if error.http_status == 400:
            return (
                "NemoVideo refused to create an anonymous account for this client id. Unset NEMO_CLIENT_ID, or "
                "set NEMO_TOKEN to a registered account's token."
            )
        case "auth_failed":
            return (
                "NemoVideo did not accept the sign-in, even after reconnecting. Try again in a minute; if it keeps "
                "happening, set NEMO_TOKEN to a registered account's token."
            )
        case "anonymous_quota":
            return (
                "NemoVideo allows one free anonymous account per computer per week and this one is used up. "
                f"Register (free) at {who.register_link()} and set NEMO_TOKEN to that account's token, or try "
                "again later."
            )
        case "rate_limited":
            return "NemoVideo is limiting requests right now. Wait a minute and try again."
        case _:
            return error.message
