"""The upload use case: local files and URLs into the project's media."""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from nemovideo_mcp.app.context import Context
from nemovideo_mcp.app.jobs import Reporter, no_report
from nemovideo_mcp.app.results import ErrorInfo, UploadedItem, UploadResult
from nemovideo_mcp.backend.auth import Identity
from nemovideo_mcp.errors import NemoError
from nemovideo_mcp.local.files import UploadCandidate, check_upload_path, check_url, open_upload
from nemovideo_mcp.text.sizes import human_size


class Upload:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def run(self, sources: list[str], report: Reporter = no_report, base_dir: Path | None = None) -> UploadResult:
        ctx = self.ctx
        ctx.check_settings()
        s = ctx.settings
        urls: list[str] = []
        candidates: list[tuple[str, UploadCandidate]] = []
        refused: list[ErrorInfo] = []
        check_path = partial(
            check_upload_path,
            base_dir=base_dir or Path.home(),  # the CLI passes the folder the person stands in
            allowed_dirs=s.upload_dir_list,
            allow_hidden=s.allow_hidden_uploads,
        )
        for source in sources:
            try:
                # Anything with a scheme other than file:// is a URL, and only http(s) will pass check_url.
                lowered = source.strip().lower()
                if "://" in lowered and not lowered.startswith("file://"):
                    urls.append(check_url(source))
                else:
                    candidates.append((source, await anyio.to_thread.run_sync(check_path, source)))
            except NemoError as exc:
                refused.append(ctx.explain(exc))
        if not urls and not candidates:
            first = refused[0] if refused else ErrorInfo(code="invalid_input", message="No files or URLs were given.")
            raise NemoError(first.code, " ".join(r.message for r in refused) or first.message)

        await ctx.connect(report)
        items: list[UploadedItem] = []
        if candidates:
            total = sum(c.size for _, c in candidates)
            await report(f"Uploading {len(candidates)} file(s), {human_size(total)}...", None)

            async def send(ident: Identity) -> list[Any]:
                with ExitStack() as stack:
                    handles = [(c.filename, stack.enter_context(open_upload(c))) for _, c in candidates]
                    return await ctx.api.upload_files(ident.session_id, handles)

            uploaded = await ctx.conn.call(send)
            items += items_of([src for src, _ in candidates], uploaded, [c.shown_name for _, c in candidates])
        if urls:
            await report(f"Adding {len(urls)} URL(s)...", None)
            uploaded = await ctx.conn.call(lambda ident: ctx.api.upload_urls(ident.session_id, urls))
            items += items_of(urls, uploaded)
        lines = [f"- {i.filename or i.source}: {describe_item(i)}" for i in items]
        message = f"Uploaded {len(items)} file(s):\n" + "\n".join(lines)
        if refused:
            message += "\nNot uploaded:\n" + "\n".join(f"- {r.message}" for r in refused)
        message += "\nNext: describe the video you want with generate; the uploaded media will be used."
        return UploadResult(message=message, files=items, refused=refused, notices=ctx.conn.take_notices())


def items_of(sources: list[str], uploaded: list[Any], names: list[str] | None = None) -> list[UploadedItem]:
    """One item per uploaded file; named as the user named it (a .jpeg was sent as .jpg)."""
    items = []
    for index, file in enumerate(uploaded):
        items.append(
            UploadedItem(
                source=sources[index] if index < len(sources) else "",
                filename=names[index] if names and index < len(names) else file.filename,
                type=file.file_type,
                duration_s=file.duration,
                width=file.width,
                height=file.height,
                size_bytes=file.size,
                url=file.cdn_url,
            )
        )
    return items


def describe_item(item: UploadedItem) -> str:
    parts = [item.type or "file"]
    if item.duration_s:
        parts.append(f"{item.duration_s:g} s")
    if item.width and item.height:
        parts.append(f"{item.width}x{item.height}")
    if item.size_bytes:
        parts.append(human_size(item.size_bytes))
    return ", ".join(parts)
