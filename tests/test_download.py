"""Downloads: redirects to a CDN are followed without taking the token along."""

from __future__ import annotations

from pathlib import Path

import httpx

from nemovideo_mcp.backend.client import NemoApi
from nemovideo_mcp.backend.transport import BearerToken

MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 2048


async def test_download_follows_a_redirect_without_the_token(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.test":
            return httpx.Response(302, headers={"location": "https://cdn.test/signed/render_x.mp4"})
        return httpx.Response(200, content=MP4, headers={"content-length": str(len(MP4))})

    api = NemoApi("https://api.test", headers={}, transport=httpx.MockTransport(handler))
    api.authorize(BearerToken("nmv_usr_secret_for_redirect_test"))
    try:
        size = await api.download("/api/render/proxy/render_x/download", tmp_path / "x.part", max_bytes=10**6)
    finally:
        await api.aclose()
    assert size == len(MP4) and (tmp_path / "x.part").read_bytes() == MP4
    assert seen[0].headers.get("authorization") == "Bearer nmv_usr_secret_for_redirect_test"
    assert "authorization" not in seen[1].headers  # never sent to the CDN
