"""Local file and URL safety: nothing private leaves the machine, nothing is overwritten."""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nemovideo_mcp.errors import NemoError
from nemovideo_mcp.local import files
from nemovideo_mcp.local.files import (
    ACCEPTED_EXTENSIONS,
    MAX_UPLOAD_BYTES,
    UploadCandidate,
    check_upload_path,
    check_url,
    claim_unique_path,
    extension_matches,
    is_mp4,
    move_into_place,
    open_upload,
    resolve_inside,
    safe_filename,
    sniff_media,
)
from nemovideo_mcp.media.formats import BACKEND_EXTENSIONS

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths, links and modes")

# Structurally real samples: uploads are checked beyond their first bytes (boxes, frames, chunks).
_MDAT = b"\x00\x00\x00\x48mdat" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + _MDAT
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + _MDAT
M4A = b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom" + _MDAT


def _image(fmt: str) -> bytes:
    """A real, decodable picture: uploads of images are decoded, not just sniffed."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 80, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


PNG = _image("PNG")
JPEG = _image("JPEG")
GIF = _image("GIF")
WEBP = _image("WEBP")
PNG_HEADER_ONLY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
WAV = b"RIFF\x44\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\x00" * 16 + b"data\x20\x00\x00\x00" + b"\x00" * 32
AVI = b"RIFF\x58\x00\x00\x00AVI LIST\x04\x00\x00\x00hdrlLIST\x04\x00\x00\x00movi" + b"\x00" * 64
EBML = b"\x1a\x45\xdf\xa3\x8f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87\x81\x04" + b"\x18\x53\x80\x67\x80" + b"\x00" * 64
_MP3_FRAMES = (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 4  # 128 kbit/s, 44.1 kHz: 417-byte frames
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + _MP3_FRAMES
MP3_FRAME = _MP3_FRAMES
AAC_ADTS = (b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 9) * 4  # 16-byte ADTS frames
SSH_KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"

SAMPLES = {
    "mp4": MP4,
    "mov": MOV,
    "m4a": M4A,
    "png": PNG,
    "jpg": JPEG,
    "jpeg": JPEG,
    "gif": GIF,
    "webp": WEBP,
    "wav": WAV,
    "avi": AVI,
    "webm": EBML,
    "mkv": EBML,
    "mp3": MP3_FRAME,
    "aac": AAC_ADTS,
}


# --- sniffing ---------------------------------------------------------------------


def test_accepted_extensions_match_the_contract() -> None:
    contract = ["mp4", "mov", "avi", "webm", "mkv", "jpg", "png", "gif", "webp", "mp3", "wav", "m4a", "aac"]
    assert set(ACCEPTED_EXTENSIONS) == {*contract, "jpeg"}
    assert MAX_UPLOAD_BYTES == 200 * 1024 * 1024
    assert {ACCEPTED_EXTENSIONS[e] for e in ("mp4", "mov", "avi", "webm", "mkv")} == {"video"}
    assert {ACCEPTED_EXTENSIONS[e] for e in ("jpg", "jpeg", "png", "gif", "webp")} == {"image"}
    assert {ACCEPTED_EXTENSIONS[e] for e in ("mp3", "wav", "m4a", "aac")} == {"audio"}


@pytest.mark.parametrize("ext", sorted(SAMPLES))
def test_every_sample_matches_its_extension(ext: str) -> None:
    assert extension_matches(ext, sniff_media(SAMPLES[ext]))
    assert extension_matches(ext.upper(), sniff_media(SAMPLES[ext]))


def test_families_are_shared_where_the_container_is() -> None:
    assert extension_matches("mov", sniff_media(MP4))
    assert extension_matches("m4a", sniff_media(MP4))
    assert extension_matches("mkv", sniff_media(EBML)) and extension_matches("webm", sniff_media(EBML))
    assert extension_matches("mp3", sniff_media(MP3_ID3)) and extension_matches("aac", sniff_media(MP3_ID3))
    assert not extension_matches("png", sniff_media(JPEG))
    assert not extension_matches("wav", sniff_media(AVI))
    assert not extension_matches("webp", sniff_media(WAV))
    assert not extension_matches("mp3", sniff_media(AAC_ADTS))
    assert not extension_matches("aac", sniff_media(MP3_FRAME))
    assert not extension_matches("txt", sniff_media(PNG))
    assert not extension_matches("png", None)


@pytest.mark.parametrize(
    "head",
    [SSH_KEY, b"", b"\x00", b"%PDF-1.7", b"PK\x03\x04", b"#!/bin/sh\n", b"The free text here", b"RIFF\x00\x00"],
)
def test_non_media_is_not_recognised(head: bytes) -> None:
    assert sniff_media(head) is None


def test_old_quicktime_atoms_need_a_plausible_size() -> None:
    assert sniff_media(b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat") == "isobmff"
    assert sniff_media(b"The free text") is None


def test_is_mp4() -> None:
    assert is_mp4(MP4) and is_mp4(MOV)
    assert not is_mp4(PNG) and not is_mp4(b"ftyp") and not is_mp4(b"")


@settings(max_examples=500)
@given(head=st.binary(max_size=80))
def test_sniff_media_never_raises(head: bytes) -> None:
    family = sniff_media(head)
    assert family is None or family in {
        "isobmff",
        "ebml",
        "avi",
        "wav",
        "webp",
        "jpeg",
        "png",
        "gif",
        "id3",
        "mp3",
        "aac",
    }


# --- upload paths -----------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "Videos").mkdir(parents=True)
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_bytes(SSH_KEY)
    (home / "Videos" / "clip.mp4").write_bytes(MP4)
    return home


def _check(raw: str, home: Path, **kwargs: object) -> UploadCandidate:
    kwargs.setdefault("base_dir", home)
    return check_upload_path(raw, home=home, **kwargs)  # type: ignore[arg-type]


def _refused(raw: str, home: Path, code: str, **kwargs: object) -> str:
    with pytest.raises(NemoError) as info:
        _check(raw, home, **kwargs)
    assert info.value.code == code, info.value.message
    return info.value.message


def test_accepts_a_normal_video(home: Path) -> None:
    candidate = _check(str(home / "Videos" / "clip.mp4"), home)
    assert candidate.path == (home / "Videos" / "clip.mp4").resolve()
    assert (candidate.size, candidate.kind, candidate.filename, candidate.shown_name) == (
        len(MP4),
        "video",
        "clip.mp4",
        "clip.mp4",
    )


@pytest.mark.parametrize("ext", sorted(SAMPLES))
def test_accepts_every_supported_format(home: Path, ext: str) -> None:
    path = home / "Videos" / f"sample.{ext.upper()}"
    path.write_bytes(SAMPLES[ext])
    candidate = _check(str(path), home)
    assert candidate.kind == ACCEPTED_EXTENSIONS[ext]
    # Everything accepted goes under a name the backend takes (its list has jpg, not jpeg).
    assert Path(candidate.filename).suffix.lower().lstrip(".") in BACKEND_EXTENSIONS
    assert candidate.shown_name == path.name


def test_phone_photo_jpeg_is_sent_as_jpg_and_reported_under_its_own_name(home: Path) -> None:
    path = home / "Videos" / "IMG_0042.jpeg"
    path.write_bytes(JPEG)
    candidate = _check(str(path), home)
    assert (candidate.filename, candidate.shown_name) == ("IMG_0042.jpg", "IMG_0042.jpeg")


def test_an_image_that_does_not_decode_is_refused_with_its_name(home: Path) -> None:
    broken = home / "Videos" / "broken.png"
    broken.write_bytes(PNG_HEADER_ONLY)  # the right first bytes, no picture behind them
    message = _refused(str(broken), home, "upload_refused")
    assert "broken.png" in message and "does not decode" in message


def test_tilde_relative_and_file_url_forms(home: Path) -> None:
    expected = (home / "Videos" / "clip.mp4").resolve()
    assert _check("~/Videos/clip.mp4", home).path == expected
    assert _check("  Videos/clip.mp4  ", home).path == expected  # relative to base_dir, trimmed
    assert _check("clip.mp4", home, base_dir=home / "Videos").path == expected
    assert _check("file://" + quote(str(home / "Videos" / "clip.mp4")), home).path == expected


def test_ssh_key_renamed_to_png_is_refused(home: Path) -> None:
    disguised = home / "Videos" / "holiday.png"
    disguised.write_bytes(SSH_KEY)
    message = _refused(str(disguised), home, "upload_refused")
    assert "does not look like a PNG image" in message
    assert "holiday.png" in message


def test_hidden_folder_is_refused_before_touching_the_disk(home: Path) -> None:
    # Exists or not, the answer is the same: no oracle for what is in ~/.ssh.
    m1 = _refused("~/.ssh/id_rsa.png", home, "upload_refused")
    m2 = _refused("~/.ssh/does_not_exist.png", home, "upload_refused")
    assert "hidden" in m1 and "NEMO_ALLOW_HIDDEN_UPLOADS=1" in m1
    assert m1.replace("id_rsa", "does_not_exist") == m2
    _refused("~/.ssh/id_rsa", home, "upload_refused")
    _refused("~/Videos/../.ssh/id_rsa.png", home, "upload_refused")


def test_hidden_file_is_refused_unless_allowed(home: Path) -> None:
    hidden = home / "Videos" / ".secret.mp4"
    hidden.write_bytes(MP4)
    _refused(str(hidden), home, "upload_refused")
    assert _check(str(hidden), home, allow_hidden=True).path == hidden.resolve()


@POSIX
def test_symlink_to_a_hidden_file_is_refused(home: Path) -> None:
    (home / ".ssh" / "key.png").write_bytes(PNG)  # even with image content
    link = home / "Videos" / "photo.png"
    link.symlink_to(home / ".ssh" / "key.png")
    message = _refused(str(link), home, "upload_refused")
    assert "links to a hidden file" in message
    assert "photo.png" in message
    assert ".ssh" not in message  # the target is not revealed


@POSIX
def test_symlink_to_ssh_key_is_refused(home: Path) -> None:
    link = home / "Videos" / "photo.png"
    link.symlink_to(home / ".ssh" / "id_rsa")
    _refused(str(link), home, "upload_refused")


@POSIX
def test_symlink_to_a_normal_media_file_is_fine(home: Path, tmp_path: Path) -> None:
    real = tmp_path / "media" / "real.mp4"
    real.parent.mkdir()
    real.write_bytes(MP4)
    link = home / "Videos" / "alias.mp4"
    link.symlink_to(real)
    candidate = _check(str(link), home)
    assert candidate.path == real.resolve()
    assert candidate.filename == "alias.mp4"


def test_hidden_components_of_home_itself_do_not_count(tmp_path: Path) -> None:
    home = tmp_path / ".homes" / "bob"
    (home / "Videos").mkdir(parents=True)
    (home / "Videos" / "clip.mp4").write_bytes(MP4)
    assert _check("~/Videos/clip.mp4", home).size == len(MP4)


@pytest.mark.parametrize(
    "raw", ["/etc/passwd.png", "/proc/self/environ.mp4", "/usr/share/x.png", "/var/lib/app/a.mp4", "/dev/zero.mp4"]
)
@POSIX
def test_system_folders_are_refused(home: Path, raw: str) -> None:
    message = _refused(raw, home, "upload_refused")
    assert "system folder" in message and "NEMO_UPLOAD_DIRS" in message


@POSIX
def test_symlink_into_a_system_folder_is_refused(home: Path) -> None:
    link = home / "Videos" / "host.png"
    link.symlink_to("/etc/hostname")
    message = _refused(str(link), home, "upload_refused")
    assert "links into a system folder" in message


@POSIX
def test_system_check_helper_spares_a_home_inside_a_system_folder() -> None:
    assert files._in_system_folder(Path("/root/Videos/a.mp4"), Path("/root")) is False
    assert files._in_system_folder(Path("/root/Videos/a.mp4"), Path("/home/bob")) is True
    assert files._in_system_folder(Path("/var/lib/jenkins/a.mp4"), Path("/var/lib/jenkins")) is False
    assert files._in_system_folder(Path("/var/lib/docker/a.mp4"), Path("/var/lib/jenkins")) is True
    assert files._in_system_folder(Path("/private/etc/x.png"), Path("/Users/bob")) is True
    assert files._in_system_folder(Path("/etcetera/x.png"), Path("/home/bob")) is False


def test_allowed_dirs_confine_uploads(home: Path, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "ok.png").write_bytes(PNG)
    assert _check(str(allowed / "ok.png"), home, allowed_dirs=[allowed]).kind == "image"
    message = _refused(str(home / "Videos" / "clip.mp4"), home, "upload_refused", allowed_dirs=[allowed])
    assert "NEMO_UPLOAD_DIRS" in message
    # A sibling whose name merely starts the same is outside.
    sibling = tmp_path / "allowed-not"
    sibling.mkdir()
    (sibling / "x.png").write_bytes(PNG)
    _refused(str(sibling / "x.png"), home, "upload_refused", allowed_dirs=[allowed])


@POSIX
def test_allowed_dirs_are_judged_on_the_resolved_path(home: Path, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "escape.mp4").symlink_to(home / "Videos" / "clip.mp4")
    message = _refused(str(allowed / "escape.mp4"), home, "upload_refused", allowed_dirs=[allowed])
    assert "links to a file outside" in message
    # An allowed folder reached through a link still works.
    alias = tmp_path / "alias"
    alias.symlink_to(home / "Videos")
    assert _check(str(home / "Videos" / "clip.mp4"), home, allowed_dirs=[alias]).size == len(MP4)


def test_allowed_dir_may_be_hidden_but_not_its_hidden_children(home: Path) -> None:
    renders = home / ".cache" / "renders"
    renders.mkdir(parents=True)
    (renders / "out.mp4").write_bytes(MP4)
    (renders / ".tmp.mp4").write_bytes(MP4)
    assert _check(str(renders / "out.mp4"), home, allowed_dirs=[renders]).kind == "video"
    _refused(str(renders / ".tmp.mp4"), home, "upload_refused", allowed_dirs=[renders])
    _refused(str(renders / "out.mp4"), home, "upload_refused")  # without the allowance


def test_unsupported_extension_lists_formats(home: Path) -> None:
    doc = home / "Videos" / "notes.txt"
    doc.write_bytes(b"hello")
    message = _refused(str(doc), home, "unsupported_file")
    assert ".txt" in message
    assert "mp4, mov, avi, webm, mkv, jpg (or jpeg), png, gif, webp, mp3, wav, m4a, aac" in message
    noext = home / "Videos" / "README"
    noext.write_bytes(b"hello")
    assert "without an extension" in _refused(str(noext), home, "unsupported_file")


def test_missing_file(home: Path) -> None:
    message = _refused("~/Videos/nope.mp4", home, "invalid_input")
    assert "nope.mp4" in message


def test_folder_named_like_a_video(home: Path) -> None:
    (home / "Videos" / "dir.mp4").mkdir()
    assert "folder" in _refused("~/Videos/dir.mp4", home, "invalid_input")


@POSIX
def test_fifo_is_refused_without_hanging(home: Path) -> None:
    fifo = home / "Videos" / "pipe.mp4"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused(str(fifo), home, "upload_refused")


def test_empty_file_is_refused(home: Path) -> None:
    (home / "Videos" / "empty.mp4").write_bytes(b"")
    assert "empty" in _refused("~/Videos/empty.mp4", home, "upload_refused")


def test_too_large_file_is_refused_with_the_limit(home: Path) -> None:
    big = home / "Videos" / "big.mp4"
    with open(big, "wb") as f:
        f.write(MP4 + b"\x00\x00\x00\x00mdat")  # a last box "to the end of the file"
        f.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: costs no disk space
    message = _refused(str(big), home, "file_too_large")
    assert "200 MB" in message and ("compress" in message.lower() or "trim" in message.lower())
    with open(big, "r+b") as f:
        f.truncate(MAX_UPLOAD_BYTES)
    assert _check(str(big), home).size == MAX_UPLOAD_BYTES


def test_head_read_is_small_and_bounded(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real_read = os.read

    def spy(fd: int, n: int) -> bytes:
        sizes.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", spy)
    _check("~/Videos/clip.mp4", home)
    assert sizes and max(sizes) <= 64


@pytest.mark.parametrize("raw", ["", "   ", "a\0b.mp4", "x" * 5000 + ".mp4"])
def test_invalid_raw_paths(home: Path, raw: str) -> None:
    _refused(raw, home, "invalid_input")


def test_message_quotes_the_path_safely(home: Path) -> None:
    message = _refused("~/Videos/\x1b[31mevil\u202e.txt", home, "unsupported_file")
    assert "\x1b" not in message and "\u202e" not in message


def test_open_upload_reads_the_checked_file_and_notices_swaps(home: Path) -> None:
    candidate = _check("~/Videos/clip.mp4", home)
    with open_upload(candidate) as f:
        assert f.read() == MP4
    (home / "Videos" / "clip.mp4").write_bytes(MP4 + b"more")
    with pytest.raises(NemoError) as info:
        open_upload(candidate)
    assert info.value.code == "upload_refused"


@POSIX
def test_open_upload_notices_a_replaced_file(home: Path) -> None:
    path = home / "Videos" / "clip.mp4"
    candidate = _check(str(path), home)
    replacement = home / "Videos" / "other.tmp"
    replacement.write_bytes(SSH_KEY.ljust(len(MP4), b"x"))
    os.replace(replacement, path)  # same size, different file
    with pytest.raises(NemoError):
        open_upload(candidate)


# --- URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/video.mp4",
        "http://cdn.example.com:8080/a/b.png?x=1&y=2#frag",
        "  https://example.com/@user/clip  ",
        "https://例え.jp/動画.mp4",
    ],
)
def test_good_urls(url: str) -> None:
    assert check_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.com/a.mp4",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "https://",
        "https:///path",
        "//example.com/a.mp4",
        "example.com/a.mp4",
        "https://user:pass@example.com/a.mp4",
        "https://user@example.com/a.mp4",
        "https://example.com:99999/a.mp4",
        "https://exa mple.com/a.mp4",
        "https://example.com/a\nb.mp4",
        "https://example.com/\u202ea.mp4",
        "https://example.com\\@evil.com/",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(NemoError) as info:
        check_url(url)
    assert info.value.code == "invalid_input"
    if url.strip():
        assert url.strip() not in info.value.message  # the link (maybe with credentials) is never echoed
    assert "user:pass" not in info.value.message


# --- file names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("My Video.mp4", "My Video.mp4"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\evil.mp4", "evil.mp4"),
        ("..", "video.mp4"),
        (".", "video.mp4"),
        ("", "video.mp4"),
        ("   ", "video.mp4"),
        (".bashrc", "bashrc"),
        ("CON", "_CON"),
        ("con.mp4", "_con.mp4"),
        ("LPT1.tar.mp4", "_LPT1.tar.mp4"),
        ("COM¹.mp4", "_COM¹.mp4"),
        ("console.mp4", "console.mp4"),
        ('a<b>c:d"e|f?g*h.mp4', "a_b_c_d_e_f_g_h.mp4"),
        ("tab\there\nnew   line.mp4", "tab here new line.mp4"),
        ("evil\u202egnp.mp4", "evilgnp.mp4"),
        ("name. . .", "name"),
        ("视频 最终版.mp4", "视频 最终版.mp4"),
    ],
)
def test_safe_filename_examples(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_keeps_extension_when_truncating() -> None:
    out = safe_filename("a" * 500 + ".mp4", max_len=50)
    assert len(out) == 50 and out.endswith(".mp4")
    cjk = safe_filename("视" * 200 + ".mp4")
    assert cjk.endswith(".mp4") and len(cjk.encode("utf-8")) <= 240
    assert safe_filename("CONSOLE.mp4", max_len=7) == "_CO.mp4"  # truncation never yields a device name


def test_safe_filename_uses_default() -> None:
    assert safe_filename("///", default="render.mp4") == "render.mp4"
    assert safe_filename("...", default="...") == "file"


_NAME_PIECES = st.one_of(
    st.sampled_from([*'./\\:*?"<>| \t\n\x00\x1b\u202e\u200b.-_aA0', "CON", "nul", "..", "com1", ".mp4"]),
    st.characters(),
)
_NAMES = st.lists(_NAME_PIECES, max_size=150).map("".join)


@settings(max_examples=500, deadline=None)
@given(name=_NAMES, max_len=st.integers(min_value=1, max_value=200))
def test_safe_filename_properties(name: str, max_len: int) -> None:
    out = safe_filename(name, max_len=max_len)
    assert out and out not in (".", "..")
    assert not out.startswith(".") and not out.endswith((".", " "))
    assert not any(ch in out for ch in '/\\<>:"|?*\0')
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in out)
    assert len(out) <= max_len
    assert len(out.encode("utf-8", "surrogatepass")) <= 240
    assert not files._WINDOWS_RESERVED.match(out.split(".")[0].rstrip(" "))
    assert safe_filename(out, max_len=max_len) == out


# --- download paths ---------------------------------------------------------------


def test_claimed_names_count_up(tmp_path: Path) -> None:
    assert claim_unique_path(tmp_path, "clip.mp4") == tmp_path / "clip.mp4"
    (tmp_path / "clip (2).mp4").write_bytes(b"2")
    assert claim_unique_path(tmp_path, "clip.mp4") == tmp_path / "clip (3).mp4"
    assert claim_unique_path(tmp_path, "../escape.mp4") == tmp_path / "escape.mp4"


def test_claim_unique_path_is_race_free(tmp_path: Path) -> None:
    results: list[Path] = []
    lock = threading.Lock()

    def claim() -> None:
        path = claim_unique_path(tmp_path, "export.mp4")
        with lock:
            results.append(path)

    threads = [threading.Thread(target=claim) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 20
    assert all(p.exists() and p.parent == tmp_path for p in results)


def test_move_into_place_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "video.mp4").write_bytes(b"precious")
    tmp = tmp_path / ".download.part"
    tmp.write_bytes(b"new render")
    final = move_into_place(tmp, tmp_path, "video.mp4")
    assert final == tmp_path / "video (2).mp4"
    assert final.read_bytes() == b"new render"
    assert (tmp_path / "video.mp4").read_bytes() == b"precious"
    assert not tmp.exists()


def test_move_into_place_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "video.mp4").write_bytes(b"precious")
    tmp = tmp_path / ".download.part"
    tmp.write_bytes(b"new render")
    final = move_into_place(tmp, tmp_path, "video.mp4")
    assert final == tmp_path / "video (2).mp4"
    assert final.read_bytes() == b"new render"
    assert (tmp_path / "video.mp4").read_bytes() == b"precious"
    assert not tmp.exists()


def test_move_into_place_missing_tmp_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        move_into_place(tmp_path / "missing.part", tmp_path, "video.mp4")
    assert list(tmp_path.iterdir()) == []


def test_move_into_place_parallel(tmp_path: Path) -> None:
    results: list[Path] = []
    lock = threading.Lock()

    def finish(i: int) -> None:
        tmp = tmp_path / f".part{i}"
        tmp.write_bytes(f"render {i}".encode())
        path = move_into_place(tmp, tmp_path, "same.mp4")
        with lock:
            results.append(path)

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 10
    assert sorted(p.read_text() for p in results) == sorted(f"render {i}" for i in range(10))


# --- serving files ----------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("serve")
    folder = base / "videos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.mp4").write_bytes(MP4)
    (folder / "sub" / "b c.mp4").write_bytes(MP4)
    (folder / ".hidden.mp4").write_bytes(MP4)
    (folder / ".cache").mkdir()
    (folder / ".cache" / "x.mp4").write_bytes(MP4)
    (base / "secret.txt").write_bytes(SSH_KEY)
    (base / "videos-evil").mkdir()
    (base / "videos-evil" / "x.mp4").write_bytes(MP4)
    if sys.platform != "win32":
        (folder / "out.mp4").symlink_to(base / "secret.txt")
        (folder / "dirlink").symlink_to(base)
        (folder / "in.mp4").symlink_to(folder / "a.mp4")
        (folder / "to_hidden.mp4").symlink_to(folder / ".hidden.mp4")
        (folder / "loop.mp4").symlink_to(folder / "loop.mp4")
    return folder


def test_resolve_inside_serves_plain_files(served: Path) -> None:
    root = served.resolve()
    assert resolve_inside(served, "a.mp4") == root / "a.mp4"
    assert resolve_inside(served, "sub/b%20c.mp4") == root / "sub" / "b c.mp4"
    assert resolve_inside(served, "sub/b c.mp4") == root / "sub" / "b c.mp4"


@pytest.mark.parametrize(
    "relative",
    [
        "",
        "sub",
        "../secret.txt",
        "%2e%2e/secret.txt",
        "%2e%2e%2fsecret.txt",
        "sub/../../secret.txt",
        "sub/%2E%2E/%2E%2E/secret.txt",
        "..%5csecret.txt",
        "..\\secret.txt",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "C:/Windows/win.ini",
        "a.mp4%00.png",
        "a.mp4\0",
        ".hidden.mp4",
        ".cache/x.mp4",
        "./a.mp4",
        "sub//b c.mp4",
        "a.mp4/",
        "../videos-evil/x.mp4",
        "CON",
        "%ff%fe",
        "nope.mp4",
    ],
)
def test_resolve_inside_refuses(served: Path, relative: str) -> None:
    assert resolve_inside(served, relative) is None


@POSIX
@pytest.mark.parametrize("relative", ["out.mp4", "dirlink/secret.txt", "to_hidden.mp4", "loop.mp4"])
def test_resolve_inside_refuses_escaping_links(served: Path, relative: str) -> None:
    assert resolve_inside(served, relative) is None


@POSIX
def test_resolve_inside_follows_links_that_stay_inside(served: Path) -> None:
    assert resolve_inside(served, "in.mp4") == served.resolve() / "a.mp4"


def test_resolve_inside_missing_folder(tmp_path: Path) -> None:
    assert resolve_inside(tmp_path / "nope", "a.mp4") is None


_TRAVERSAL = st.one_of(
    st.sampled_from(
        [
            *("..", ".", "/", "\\", "%2e", "%2E", "%2f", "%2F", "%5c", "%00", "%25", ":", "~", "%c0%ae"),
            *("secret.txt", "a.mp4", "sub", "dirlink", "out.mp4", "videos-evil", "x.mp4", "\u2025", "\uff0e"),
        ]
    ),
    st.text(max_size=5),
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_TRAVERSAL, max_size=8))
def test_resolve_inside_never_escapes(served: Path, parts: list[str]) -> None:
    result = resolve_inside(served, "".join(parts))
    if result is not None:
        root = served.resolve()
        assert result.is_relative_to(root) and result != root
        assert stat.S_ISREG(result.stat().st_mode)
        assert not any(p.startswith(".") for p in result.relative_to(root).parts)
        assert result.read_bytes() == MP4  # never the secret


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/a.mp4",
        "http://127.0.0.1/a.mp4",
        "http://10.0.0.5/a.mp4",
        "http://192.168.1.20/clip.mp4",
        "http://[::1]/a.mp4",
        "http://169.254.169.254/latest/meta-data",
        "http://nas.local/a.mp4",
    ],
)
def test_check_url_refuses_local_and_private_addresses(url: str) -> None:
    with pytest.raises(NemoError) as caught:
        check_url(url)
    assert "path instead" in caught.value.message


def test_check_url_accepts_public_hosts() -> None:
    assert check_url("https://example.com/clip.mp4") == "https://example.com/clip.mp4"
    assert check_url("http://93.184.216.34/a.mp4") == "http://93.184.216.34/a.mp4"
