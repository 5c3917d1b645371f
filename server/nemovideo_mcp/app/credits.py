"""The credits use case: the balance, and for an anonymous user out of credits, where to register."""

from __future__ import annotations

from nemovideo_mcp.app.context import Context
from nemovideo_mcp.app.jobs import Reporter, no_report
from nemovideo_mcp.app.results import CreditsResult


class Credits:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def run(self, report: Reporter = no_report) -> CreditsResult:
        ctx = self.ctx
        ctx.check_settings()
        await ctx.connect(report)
        balance = await ctx.conn.call(lambda _: ctx.api.credits())
        who = ctx.explain.who()
        out_of_credits = balance.available <= 0
        register = who.register_link() if who.anonymous and out_of_credits else None
        if ctx.settings.uses_local_backend:
            return CreditsResult(
                message="The local studio is in use: planning, editing and rendering are free and run on this "
                "computer, so no credits are spent.",
                available=balance.available,
                frozen=0,
                total=balance.total,
                anonymous=who.anonymous,
                notices=ctx.conn.take_notices(),
            )
        message = f"Credits: {balance.available} available"
        if balance.frozen:
            message += f", {balance.frozen} held by running jobs"
        message += f" ({balance.total} total)."
        if register:
            message += f" The free credits are used up: register (free) to get more: {register}"
        elif who.anonymous:
            message += " (free anonymous account)"
        return CreditsResult(
            message=message,
            available=balance.available,
            frozen=balance.frozen,
            total=balance.total,
            anonymous=who.anonymous,
            register_url=register,
            notices=ctx.conn.take_notices(),
        )
