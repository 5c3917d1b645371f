"""The draft model, its summary and diffs (nemovideo_mcp.text.timeline)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemovideo_mcp.text.timeline import Draft, diff_drafts, parse_draft, summarize, track_summaries, video_format

DOC_EXAMPLE = (
    'Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) 3. Title: "Urban Dreams" (0-3s)'
)


def doc_draft() -> dict[str, Any]:
    """The contract's example timeline, shaped like real drafts (extra fields included)."""
    return {
        "t": [
            {"tt": 0, "m": {"name": "Main video"}, "sg": [{"d": 10000, "m": {"name": "city timelapse"}, "sid": "s1"}]},
            {"tt": 1, "m": {"kind": "bgm"}, "sg": [{"d": 10000, "m": {"name": "Lo-fi", "volume": 0.35}, "tr": {}}]},
            {"tt": 7, "sg": [{"d": 3000, "m": {"text": "Urban Dreams", "kind": "title"}}]},
        ],
        "d": 10000,
        "m": {"title": "Urban Dreams", "width": 1280, "height": 720},
        "v": 3,
    }


# --- summaries -------------------------------------------------------------------------------


# The documented one-liner, then the format the draft states (issue 12 #12).
DOC_SUMMARY = DOC_EXAMPLE + ". Format: 1280x720, 16:9."


def test_documented_summary() -> None:
    assert summarize(parse_draft(doc_draft())) == DOC_SUMMARY


def test_format_from_the_draft_or_the_canvas() -> None:
    draft = parse_draft({**doc_draft(), "m": {"width": 1920, "height": 1080, "fps": 30}})
    assert video_format(draft).text() == "1920x1080, 16:9, 30 fps"
    vertical = parse_draft({**doc_draft(), "m": {}})
    assert video_format(vertical, {"width": 1080, "height": 1920, "fps": 29.97}).text() == "1080x1920, 9:16, 29.97 fps"
    assert video_format(parse_draft({**doc_draft(), "m": {"width": 1000, "height": 700}})).aspect == "10:7"
    assert video_format(parse_draft({**doc_draft(), "m": {"aspect": "4:5", "width": True}})).text() == "4:5"
    assert summarize(parse_draft({**doc_draft(), "m": {}})) == DOC_EXAMPLE  # nothing known: nothing said


def test_track_summaries_fields() -> None:
    video, bgm, title = track_summaries(parse_draft(doc_draft()))
    assert (video.index, video.kind, video.label, video.name, video.end_s, video.segments) == (
        1, "video", "Video", "city timelapse", 10.0, 1,
    )  # fmt: skip
    assert (bgm.kind, bgm.label, bgm.volume_pct) == ("audio", "BGM", 35)
    assert (title.kind, title.label, title.name, title.start_s, title.end_s) == ("text", "Title", "Urban Dreams", 0, 3)


def test_empty_draft() -> None:
    assert summarize(parse_draft({"t": []})) == "Timeline is empty (no tracks yet)."
    assert summarize(Draft()) == "Timeline is empty (no tracks yet)."
    assert not parse_draft({"t": [{"tt": 0, "sg": []}]}).is_export_ready
    assert parse_draft(doc_draft()).is_export_ready


def test_segments_play_back_to_back_unless_they_carry_a_start() -> None:
    raw = {"t": [{"tt": 0, "sg": [{"d": 2500}, {"d": 2500}, {"d": 1000, "st": 8000}]}]}
    (track,) = track_summaries(parse_draft(raw))
    assert (track.start_s, track.end_s, track.segments) == (0, 9, 3)
    assert summarize(parse_draft(raw)) == "Timeline (1 track): 1. Video (0-9s)"
    for key in ("st", "start", "start_ms", "offset"):
        (track,) = track_summaries(parse_draft({"t": [{"tt": 1, "sg": [{"d": 1500, key: 2000}]}]}))
        assert (track.start_s, track.end_s) == (2, 3.5), key
    (track,) = track_summaries(parse_draft({"t": [{"tt": 1, "sg": [{"d": 1500, "m": {"offset": "1000"}}]}]}))
    assert (track.start_s, track.end_s) == (1, 2.5)


def test_seconds_are_shown_without_trailing_zeros() -> None:
    raw = {"t": [{"tt": 7, "m": {"kind": "subtitle"}, "sg": [{"d": 2500, "m": {"text": "Hi"}}]}]}
    assert summarize(parse_draft(raw)) == 'Timeline (1 track): 1. Subtitle: "Hi" (0-2.5s)'


@pytest.mark.parametrize(
    ("volume", "pct"), [(0.35, 35), (35, 35), ("35%", 35), ("0.5", 50), (1, 100), (0, 0), (150, 150), (True, None)]
)
def test_volume_fraction_or_percent(volume: object, pct: int | None) -> None:
    (track,) = track_summaries(parse_draft({"t": [{"tt": 1, "m": {"volume": volume}, "sg": [{"d": 1000}]}]}))
    assert track.volume_pct == pct


def test_labels() -> None:
    def label(track: dict[str, Any]) -> str:
        return track_summaries(parse_draft({"t": [track]}))[0].label

    assert label({"tt": 1, "m": {"role": "music"}}) == "BGM"
    assert label({"tt": 1, "m": {"name": "Background music"}}) == "BGM"
    assert label({"tt": 1, "m": {"name": "Voiceover"}}) == "Audio"
    assert label({"tt": 7, "m": {"role": "title"}}) == "Title"
    assert label({"tt": 7, "sg": [{"m": {"kind": "caption"}}]}) == "Captions"
    assert label({"tt": 7, "sg": [{"m": {"kind": "subtitle"}}]}) == "Subtitle"
    assert label({"tt": 7}) == "Text"
    assert label({"tt": 5}) == "Track type 5"
    assert label({"tt": "weird"}) == "Track of unknown type"
    assert label({"tt": "video"}) == "Video"


def test_names() -> None:
    def name(track: dict[str, Any]) -> str | None:
        return track_summaries(parse_draft({"t": [track]}))[0].name

    assert name({"tt": 0, "m": {"title": "Intro", "prompt": "a long prompt"}}) == "Intro"
    assert name({"tt": 0, "m": {"name": "Main video"}, "sg": [{"m": {"filename": "a.mp4"}}]}) == "a.mp4"
    assert name({"tt": 0, "sg": [{"m": {"name": "a.mp4"}}, {"m": {"name": "b.mp4"}}, {"m": {"name": "c.mp4"}}]}) == (
        "a.mp4 + 2 more"
    )
    assert name({"tt": 0, "m": {"name": ""}}) is None
    assert name({"tt": 0, "m": {"name": 42}}) is None
    long = name({"tt": 0, "m": {"prompt": "word " * 40}})
    assert long is not None and len(long) <= 60 and long.endswith("…")


def test_unknown_and_empty_tracks_are_named_honestly() -> None:
    raw = {"t": [{"tt": 5, "d": 4000, "m": {"name": "Sparkles"}}, {"tt": 0}]}
    assert summarize(parse_draft(raw)) == "Timeline (2 tracks): 1. Track type 5: Sparkles (0-4s) 2. Video (empty)"


# --- tolerant parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [None, [], [1, 2], "not json", "[1]", 42, True, {"t": "tracks"}, {"t": [None, 1, "x", []]}, {"t": {"0": {}}}],
)
def test_garbage_gives_an_empty_draft(raw: object) -> None:
    draft = parse_draft(raw)
    assert draft.t == [] or all(track.sg == [] for track in draft.t)
    assert summarize(draft)


def test_wrappers_and_json_strings_are_unwrapped() -> None:
    envelope = {"code": 0, "data": {"session_id": "1", "state": {"draft": doc_draft(), "video_infos": []}}}
    assert summarize(parse_draft(envelope)) == DOC_SUMMARY
    assert summarize(parse_draft(json.dumps(doc_draft()))) == DOC_SUMMARY
    assert summarize(parse_draft({"draft": doc_draft()})) == DOC_SUMMARY


def test_wrong_types_are_dropped_not_fatal() -> None:
    raw = {
        "t": [
            {"tt": True, "sg": [{"d": True}, {"d": "2000"}, {"d": -5}, {"d": float("nan")}, {"d": 10**30}, "seg"]},
            {"tt": 1.0, "m": ["not", "a", "dict"], "sg": {"not": "a list"}},
        ],
        "d": "long",
        "m": None,
    }
    draft = parse_draft(raw)
    first, second = track_summaries(draft)
    assert (first.label, first.segments, first.end_s) == ("Track of unknown type", 5, 2)
    assert (second.kind, second.segments) == ("audio", 0)
    assert draft.d is None and draft.m == {}


def test_unknown_fields_are_kept() -> None:
    draft = parse_draft(doc_draft())
    assert draft.model_extra == {"v": 3}
    assert draft.t[0].sg[0].model_extra == {"sid": "s1"}


# --- diffs -------------------------------------------------------------------------------------


def test_no_change_no_sentences() -> None:
    assert diff_drafts(parse_draft(doc_draft()), parse_draft(doc_draft())) == []
    assert diff_drafts(Draft(), Draft()) == []


def test_track_added_and_removed() -> None:
    before = doc_draft()
    del before["t"][2]
    assert diff_drafts(parse_draft(before), parse_draft(doc_draft())) == ['Added track 3: Title "Urban Dreams" (0-3s)']
    after = doc_draft()
    del after["t"][1]
    assert diff_drafts(parse_draft(doc_draft()), parse_draft(after)) == ["Removed track 2: BGM: Lo-fi"]


def test_insert_in_the_middle_is_one_change() -> None:
    after = doc_draft()
    after["t"].insert(1, {"tt": 7, "m": {"kind": "subtitle"}, "sg": [{"d": 5000, "m": {"text": "Hello"}}]})
    assert diff_drafts(parse_draft(doc_draft()), parse_draft(after)) == ['Added track 2: Subtitle "Hello" (0-5s)']


def test_segment_text_volume_and_timing_changes() -> None:
    after = doc_draft()
    after["t"][0]["sg"].append({"d": 2000, "m": {"name": "city timelapse"}})
    after["t"][1]["sg"][0]["m"]["volume"] = 50
    after["t"][2]["sg"][0]["m"]["text"] = "City Lights"
    assert diff_drafts(parse_draft(doc_draft()), parse_draft(after)) == [
        "Track 1 (Video): segment 2 added",
        "Track 1 (Video): now 0-12s (was 0-10s)",
        "Track 2 (BGM): volume 35% -> 50%",
        'Track 3 (Title): text "Urban Dreams" -> "City Lights"',
    ]


def test_segment_retimed_and_removed() -> None:
    before = {"t": [{"tt": 0, "sg": [{"d": 3000}, {"d": 4000}, {"d": 3000}]}]}
    after = {"t": [{"tt": 0, "sg": [{"d": 3000}, {"d": 5000}]}]}
    assert diff_drafts(parse_draft(before), parse_draft(after)) == [
        "Track 1 (Video): segment 2 retimed to 3-8s (was 3-7s)",
        "Track 1 (Video): segment 3 removed",
        "Track 1 (Video): now 0-8s (was 0-10s)",
    ]


def test_volume_set_and_unset() -> None:
    quiet = {"t": [{"tt": 1, "sg": [{"d": 1000}]}]}
    loud = copy.deepcopy(quiet)
    loud["t"][0]["m"] = {"volume": 0.8}
    assert diff_drafts(parse_draft(quiet), parse_draft(loud)) == ["Track 1 (Audio): volume set to 80%"]
    assert diff_drafts(parse_draft(loud), parse_draft(quiet)) == ["Track 1 (Audio): volume no longer set (was 80%)"]


def test_many_segment_changes_are_capped() -> None:
    before = {"t": [{"tt": 0, "sg": [{"d": 1000}]}]}
    after = {"t": [{"tt": 0, "sg": [{"d": 1000}] + [{"d": 500 + i} for i in range(9)]}]}
    sentences = diff_drafts(parse_draft(before), parse_draft(after))
    assert "Track 1 (Video): 4 more segment changes" in sentences
    assert len(sentences) == 7  # five segment sentences, the rest in one, and the new span


# --- properties ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=40,
)
# Drafts that look right at the top and go wrong anywhere below.
_meta = st.dictionaries(
    st.sampled_from(["name", "title", "text", "kind", "role", "volume", "prompt", "offset", "x"]),
    json_values,
    max_size=4,
)
_segment = st.dictionaries(
    st.sampled_from(["d", "m", "st", "start", "start_ms", "offset", "sid"]), json_values | _meta, max_size=5
)
_track = st.fixed_dictionaries(
    {},
    optional={
        "tt": st.sampled_from([0, 1, 7, 5, -1, "0", True, None, 2.5]) | json_values,
        "sg": st.lists(_segment | json_values, max_size=5) | json_values,
        "d": json_values,
        "m": _meta | json_values,
    },
)
draftish = st.fixed_dictionaries(
    {"t": st.lists(_track | json_values, max_size=6) | json_values}, optional={"d": json_values, "m": json_values}
)


@given(json_values | draftish)
@settings(max_examples=400, deadline=None)
def test_any_json_parses_and_summarises(raw: object) -> None:
    draft = parse_draft(raw)
    summarize(draft)
    track_summaries(draft)
    assert isinstance(draft.is_export_ready, bool)


@given(draftish)
@settings(max_examples=400, deadline=None)
def test_summary_never_invents_tracks(raw: dict[str, Any]) -> None:
    draft = parse_draft(raw)
    entries = len(raw["t"]) if isinstance(raw["t"], list) else 0
    summaries = track_summaries(draft)
    assert len(summaries) <= entries
    text = summarize(draft)
    if summaries:
        assert text.startswith(f"Timeline ({len(summaries)} track")
    else:
        assert text == "Timeline is empty (no tracks yet)."


@given(json_values | draftish, json_values | draftish)
@settings(max_examples=300, deadline=None)
def test_diff_never_raises(a: object, b: object) -> None:
    before, after = parse_draft(a), parse_draft(b)
    diff_drafts(before, after)
    assert diff_drafts(after, after) == []


def test_big_drafts_diff_quickly() -> None:
    # difflib alone is quadratic on runs of equal segments (this took 97 s before ends were trimmed).
    before = parse_draft({"t": [{"tt": 0, "sg": [{"d": 1000}] * 5000}] * 20})
    after = parse_draft({"t": [{"tt": 0, "sg": [{"d": 1000}] * 2500 + [{"d": 5}] + [{"d": 1000}] * 2500}] * 20})
    started = time.perf_counter()
    sentences = diff_drafts(before, after)
    assert time.perf_counter() - started < 3
    assert sentences[:2] == ["Track 1 (Video): segment 2501 added", "Track 1 (Video): now 0-5000.01s (was 0-5000s)"]
