"""What the planner says, in English or Chinese: changes, notes, refusals, and what it can do."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from . import ops as O
from .edits import Event
from .lexicon import Ref, percent, seconds

Lang = Literal["en", "zh"]

_EN_ORD = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth"}
_EN_NOUN = {None: ("scene", "scenes"), "image": ("photo", "photos"), "video": ("clip", "clips")}
_ZH_NOUN = {None: ("个", "场景"), "image": ("张", "照片"), "video": ("段", "视频")}


def length(ms: int, lang: Lang) -> str:
    text = seconds(int(ms))
    return text.replace("s", "秒") if lang == "zh" else text


def _ordinal(n: int) -> str:
    if n in _EN_ORD:
        return _EN_ORD[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def ref(r: Ref | None, lang: Lang) -> str:
    """How the user's reference reads back: "scene 2", "the third photo", "第二张照片"."""
    if r is None:
        return "it" if lang == "en" else "它"
    if r.name:
        return f'"{r.name}"' if lang == "en" else f"“{r.name}”"
    if lang == "zh":
        cls, noun = _ZH_NOUN[r.kind]
        if r.index == 0:
            return f"那{cls}{noun}"
        if r.index == -1:
            return f"最后一{cls}{noun}"
        if r.index < 0:
            return f"倒数第{-r.index}{cls}{noun}"
        return f"第{r.index}{cls}{noun}"
    one, _ = _EN_NOUN[r.kind]
    if r.index == 0:
        return f"the {one}"
    if r.index == -1:
        return f"the last {one}"
    if r.index == -2:
        return f"the second-to-last {one}"
    if r.index < 0:
        return f"the {_ordinal(-r.index)}-from-last {one}"
    return f"{one} {r.index}" if r.kind is None else f"the {_ordinal(r.index)} {one}"


def scene(label: dict[str, Any] | None, lang: Lang) -> str:
    if not label:
        return "a scene" if lang == "en" else "一个场景"
    name = str(label.get("name") or "")
    if lang == "zh":
        zh_name = {"Title card": "标题页", "Caption": "字幕页"}.get(name, name)
        return f"第{label['n']}个场景（{zh_name}）" if zh_name else f"第{label['n']}个场景"
    shown = {"Title card": "the title card", "Caption": "a caption card"}.get(name)
    if shown:
        return f"scene {label['n']} ({shown})"
    return f'scene {label["n"]} ("{name}")' if name else f"scene {label['n']}"


def _quote(text: Any, lang: Lang) -> str:
    return f'"{text}"' if lang == "en" else f"“{text}”"


def _count(n: int, kind: str | None, lang: Lang) -> str:
    if lang == "zh":
        cls, noun = _ZH_NOUN[kind]
        return f"{n}{cls}{noun}"
    one, many = _EN_NOUN[kind]
    return f"{n} {one if n == 1 else many}"


def _join(items: Sequence[str], lang: Lang) -> str:
    if lang == "zh":
        return "、".join(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _motion(motion: str, lang: Lang) -> str:
    en = {"none": "still", "auto": "alternating zoom and pan", "zoom_in": "zoom in", "zoom_out": "zoom out",
          "pan_left": "pan left", "pan_right": "pan right"}  # fmt: skip
    zh = {"none": "静止", "auto": "交替缩放和平移", "zoom_in": "推近", "zoom_out": "拉远", "pan_left": "向左平移",
          "pan_right": "向右平移"}  # fmt: skip
    return (zh if lang == "zh" else en).get(motion, motion)


Render = Callable[[dict[str, Any], Lang], str]


def _created_media(p: dict[str, Any], lang: Lang) -> str:
    parts = [_count(p["images"], "image", lang)] if p["images"] else []
    if p["clips"]:
        parts.append(_count(p["clips"], "video", lang))
    what = _join(parts, lang)
    if lang == "zh":
        extra = f"，配了{p['captions']}条字幕" if p["captions"] else ""
        return f"按上传顺序用你的{what}做了一个{length(p['length'], lang)}、{p['aspect']}的视频{extra}"
    extra = f", with {p['captions']} caption{'s' if p['captions'] != 1 else ''}" if p["captions"] else ""
    return f"made a {length(p['length'], lang)} {p['aspect']} video from your {what}, in upload order{extra}"


def _created_words(p: dict[str, Any], lang: Lang) -> str:
    n = p["captions"]
    if lang == "zh":
        body = f"一个标题页（{_quote(p['title'], lang)}）" + (f"和{n}个字幕场景" if n else "")
        note = "（标题取自你的描述，可以说“把标题改成……”来修改）" if p["derived"] and p["title"] else ""
        return f"根据你的描述做了一个{length(p['length'], lang)}、{p['aspect']}的视频：{body}{note}"
    body = f"a title card ({_quote(p['title'], lang)})" + (
        f" and {n} caption scene{'s' if n != 1 else ''}" if n else ""
    )
    note = ' (the title comes from your words; say "change the title to ..." to change it)' if p["derived"] else ""
    return f"made a {length(p['length'], lang)} {p['aspect']} video from your description: {body}{note}"


def _scene_removed(p: dict[str, Any], lang: Lang) -> str:
    captions = [c for c in p.get("captions") or [] if c]
    if lang == "zh":
        extra = f"（连同字幕{_quote(captions[0], lang)}）" if captions else ""
        return f"删除了{scene(p['scene'], lang)}{extra}"
    extra = f" with its caption {_quote(captions[0], lang)}" if captions else ""
    return f"{scene(p['scene'], lang)} removed{extra}"


def _scene_replaced(p: dict[str, Any], lang: Lang) -> str:
    short = p.get("source") and p["source"] < p["length"]
    if lang == "zh":
        extra = f"（这段视频只有{length(p['source'], lang)}，比场景的{length(p['length'], lang)}短）" if short else ""
        return f"{scene(p['scene'], lang)}换成了{_quote(p['name'], lang)}{extra}"
    extra = (
        f" (the clip is {length(p['source'], lang)}, shorter than the scene's {length(p['length'], lang)})"
        if short
        else ""
    )
    return f"{scene(p['scene'], lang)} replaced with {_quote(p['name'], lang)}{extra}"


def _scene_duration(p: dict[str, Any], lang: Lang) -> str:
    old, new = length(p["old"], lang), length(p["new"], lang)
    if lang == "zh":
        extra = f"（比这段视频剩下的{length(p['source'], lang)}长）" if p.get("source") else ""
        return f"{scene(p['scene'], lang)}时长 {old} → {new}{extra}"
    extra = f" (longer than the clip's remaining {length(p['source'], lang)})" if p.get("source") else ""
    return f"{scene(p['scene'], lang)} {old} -> {new}{extra}"


def _transition(p: dict[str, Any], lang: Lang) -> str:
    if p["style"] == "cut":
        return "转场：直接切换" if lang == "zh" else "transitions: hard cuts"
    if lang == "zh":
        return f"转场：{length(p['ms'], lang)}交叉淡化"
    return f"transitions: {length(p['ms'], lang)} crossfades"


def _music_replaced(p: dict[str, Any], lang: Lang) -> str:
    if lang == "zh":
        return f"音乐{_quote(p['old'], lang)}换成了你的{_quote(p['name'], lang)}，音量{percent(p['volume'])}"
    return f"music {_quote(p['old'], lang)} replaced with your {_quote(p['name'], lang)} at {percent(p['volume'])}"


def _p(en: str, zh: str) -> Render:
    """A template pair; {scene}, {a}, {b} are scene labels, {length}-like keys are ms, {volume}-like are gains."""

    def render(params: dict[str, Any], lang: Lang) -> str:
        values: dict[str, Any] = {}
        for key, value in params.items():
            if key in ("scene", "a", "b") and (isinstance(value, dict) or value is None):
                values[key] = scene(value, lang)
            elif key in ("length", "old_ms", "new_ms", "used", "asked", "source", "minimum", "maximum", "src_in", "ms"):
                values[key] = length(int(value or 0), lang)
            elif key in ("volume",):
                values[key] = percent(float(value))
            elif key in ("names",):
                values[key] = (
                    _join([_quote(v, lang) for v in value], lang) if value else ("nothing" if lang == "en" else "无")
                )
            elif key in ("scenes",):
                values[key] = _join([str(v) for v in value], lang)
            else:
                values[key] = value
        return (zh if lang == "zh" else en).format(**values)

    return render


def _each(p: dict[str, Any], lang: Lang) -> str:
    what = _count(p["count"], p["kind"], lang)
    old, new = length(p["old"], lang), length(p["new"], lang)
    if lang == "zh":
        return f"{what}每个都设为{length(p['length'], lang)}（总时长 {old} → {new}）"
    return f"each of the {what} now lasts {length(p['length'], lang)} (length {old} -> {new})"


def _volume_change(p: dict[str, Any], lang: Lang) -> str:
    old, new = percent(p["old"]), percent(p["new"])
    return f"音乐音量 {old} → {new}" if lang == "zh" else f"music volume {old} -> {new}"


def _length_change(p: dict[str, Any], lang: Lang) -> str:
    old, new = length(p["old"], lang), length(p["new"], lang)
    if lang == "zh":
        return f"总时长 {old} → {new}（各场景和字幕按比例调整）"
    return f"length {old} -> {new} (scenes and captions rescaled proportionally)"


def _trimmed(p: dict[str, Any], lang: Lang) -> str:
    at, new = length(p["src_in"], lang), length(p["new"], lang)
    if lang == "zh":
        return f"{scene(p['scene'], lang)}改为从视频的第{at}开始，时长{new}"
    return f"{scene(p['scene'], lang)} now starts {at} into the clip and lasts {new}"


def _title_card_removed(p: dict[str, Any], lang: Lang) -> str:
    old, new = length(p["old"], lang), length(p["new"], lang)
    if lang == "zh":
        return f"标题页场景也一并删除（总时长 {old} → {new}）"
    return f"the title card scene removed too (length {old} -> {new})"


def _motion_change(p: dict[str, Any], lang: Lang) -> str:
    if lang == "zh":
        return f"{scene(p['scene'], lang)}的动效：{_motion(p['motion'], lang)}"
    return f"{scene(p['scene'], lang)} motion: {_motion(p['motion'], lang)}"


def _motion_all(p: dict[str, Any], lang: Lang) -> str:
    if lang == "zh":
        return f"{p['count']}张照片的动效：{_motion(p['motion'], lang)}"
    return f"motion on {_count(p['count'], 'image', lang)}: {_motion(p['motion'], lang)}"


def _clip_volume(p: dict[str, Any], lang: Lang) -> str:
    scenes = _join([str(s) for s in p["scenes"]], lang)
    if lang == "zh":
        return f"第{scenes}个场景的视频原声音量设为{percent(p['volume'])}"
    return f"clip sound on scene{'s' if len(p['scenes']) > 1 else ''} {scenes} set to {percent(p['volume'])}"


def _no_such_scene(p: dict[str, Any], lang: Lang) -> str:
    if lang == "zh":
        return f"视频里只有{_count(p['count'], p['kind'], lang)}"
    return f"the video has only {_count(p['count'], p['kind'], lang)}"


def _none_of_kind(p: dict[str, Any], lang: Lang) -> str:
    if lang == "zh":
        return f"视频里没有{_ZH_NOUN[p['kind']][1]}"
    return f"the video has no {_EN_NOUN[p['kind']][1]}"


def _ambiguous(p: dict[str, Any], lang: Lang) -> str:
    scenes = _join([str(s) for s in p["scenes"]], lang)
    if lang == "zh":
        cls, noun = _ZH_NOUN[p["kind"]]
        return f"不确定是哪一{cls}{noun}：有{len(p['scenes'])}个（第{scenes}个场景），请说明是第几个"
    one, many = _EN_NOUN[p["kind"]]
    return f'which {one}? There are {len(p["scenes"])} {many} (scenes {scenes}); say e.g. "the second {one}"'


def _no_music(p: dict[str, Any], lang: Lang) -> str:
    if lang == "zh":
        hint = "可以说“加上我的音乐”" if p.get("have_audio") else "可以先上传音频文件，或者说“加背景音乐”"
        return f"视频里还没有音乐，{hint}"
    hint = 'say "add my music"' if p.get("have_audio") else 'upload an audio file, or ask for "background music"'
    return f"there is no music on the video yet; {hint}"


def _nothing_to_make(p: dict[str, Any], lang: Lang) -> str:
    if lang == "zh":
        extra = "（只有音频做不出画面）" if p.get("have_audio") else ""
        example = "“做一个12秒的视频：我们的面包店早上7点开门。每天都有新鲜面包。”"
        return f"你还没有上传照片或视频，也没有描述内容{extra}；例如：{example}"
    extra = " (audio alone has no pictures)" if p.get("have_audio") else ""
    return (
        f"you haven't uploaded any photos or clips and gave no description{extra}; e.g. "
        '"Make a 12-second video: Our bakery opens at 7. Fresh bread every day."'
    )


TEMPLATES: dict[str, Render] = {
    # changes
    "created_media": _created_media,
    "created_words": _created_words,
    "title_set": _p('title set to "{text}"', "标题设为“{text}”"),
    "title_changed": _p('title "{old}" -> "{new}"', "标题“{old}” → “{new}”"),
    "title_removed": _p('title "{text}" removed', "删除了标题“{text}”"),
    "title_card_removed": _title_card_removed,
    "caption_added": _p('caption "{text}" added to {scene}', "在{scene}加了字幕“{text}”"),
    "caption_changed": _p('caption on {scene} "{old}" -> "{new}"', "{scene}的字幕“{old}” → “{new}”"),
    "captions_removed": _p("{count} caption(s) removed", "删除了{count}条字幕"),
    "caption_removed": _p('caption "{text}" removed from {scene}', "删除了{scene}的字幕“{text}”"),
    "aspect": _p("aspect {old} -> {new} ({width}x{height})", "画面比例 {old} → {new}（{width}x{height}）"),
    "quality": _p("resolution {old} -> {new} ({width}x{height})", "分辨率 {old} → {new}（{width}x{height}）"),
    "transition": _transition,
    "music_added": _p('your music "{name}" added at {volume}', "加上了你的音乐“{name}”，音量{volume}"),
    "music_replaced": _music_replaced,
    "bed_added": _p(
        "a generated simple music bed added at {volume} (it is not your own music: you haven't uploaded any audio)",
        "加上了一段自动生成的简单背景音，音量{volume}（不是你自己的音乐：你还没有上传音频）",
    ),
    "music_volume": _volume_change,
    "music_removed": _p('music "{name}" removed', "删除了音乐“{name}”"),
    "scene_removed": _scene_removed,
    "scene_moved": _p("{scene} moved to position {position}", "{scene}移到了第{position}位"),
    "scenes_swapped": _p("{a} and {b} swapped", "{a}和{b}互换了位置"),
    "scene_replaced": _scene_replaced,
    "scene_added": _p('"{name}" added as scene {position} ({length})', "“{name}”加为第{position}个场景（{length}）"),
    "scene_duration": _scene_duration,
    "trimmed": _trimmed,
    "total": _length_change,
    "motion": _motion_change,
    "motion_all": _motion_all,
    "clip_volume": _clip_volume,
    "each_duration": lambda p, lang: _each(p, lang),
    "reversed": _p("the order of the {count} scenes reversed", "{count}个场景的顺序倒过来了"),
    # notes
    "each_same": _p("they are already {length} each", "它们已经都是{length}"),
    "length_clamped": _p(
        "a length of {asked} is outside what I make, so I used {used}", "时长{asked}超出了可制作的范围，改用{used}"
    ),
    "replaced_previous": _p(
        "this replaces the previous video ({count} scenes)", "新视频替换了之前的视频（原有{count}个场景）"
    ),
    "title_exists": _p('the title is already "{text}"', "标题已经是“{text}”"),
    "title_same": _p('the title is already "{text}"', "标题已经是“{text}”"),
    "no_title": _p("there was no title to remove", "视频没有标题，无需删除"),
    "caption_same": _p('{scene} already has the caption "{text}"', "{scene}的字幕已经是“{text}”"),
    "no_caption_on": _p("{scene} has no caption", "{scene}没有字幕"),
    "no_captions": _p("there were no captions to remove", "视频没有字幕，无需删除"),
    "aspect_same": _p("it is already {aspect}", "画面比例已经是{aspect}"),
    "quality_same": _p("it is already {quality}", "分辨率已经是{quality}"),
    "transition_same": lambda p, lang: (
        f"转场已经是{'交叉淡化' if p['style'] == 'crossfade' else '直接切换'}"
        if lang == "zh"
        else f"transitions are already {'crossfades' if p['style'] == 'crossfade' else 'hard cuts'}"
    ),
    "music_same": _p('the music "{name}" is already on at {volume}', "音乐“{name}”已经在用，音量{volume}"),
    "music_volume_same": _p("the music is already at {volume}", "音乐音量已经是{volume}"),
    "no_music_to_remove": _p("there was no music to remove", "视频没有音乐，无需删除"),
    "same_scene": _p("that is the same scene", "这是同一个场景"),
    "already_there": _p("{scene} is already at position {position}", "{scene}已经在第{position}位"),
    "duration_same": _p("{scene} is already {length}", "{scene}已经是{length}"),
    "total_same": _p("the video is already {length}", "视频已经是{length}"),
    "motion_same": _p("{scene} already has that motion", "{scene}已经是这个动效"),
    # failures
    "no_video": _p(
        "there is no video yet: upload photos or clips, or describe the video first",
        "还没有视频：请先上传照片或视频，或者描述想要的视频",
    ),
    "nothing_to_make": _nothing_to_make,
    "no_such_scene": _no_such_scene,
    "none_of_kind": _none_of_kind,
    "ambiguous": _ambiguous,
    "ambiguous_name": _p('several scenes use "{name}" (scenes {scenes})', "有多个场景用了“{name}”（第{scenes}个）"),
    "no_scene_named": _p('no scene uses "{name}"', "没有场景用了“{name}”"),
    "no_upload": _p(
        'there is no upload called "{name}" (uploaded: {names})', "没有名为“{name}”的上传文件（已上传：{names}）"
    ),
    "not_visual": _p('"{name}" is an audio file, not a photo or clip', "“{name}”是音频文件，不是照片或视频"),
    "not_audio": _p('"{name}" is not an audio file', "“{name}”不是音频文件"),
    "no_audio": _p(
        "you haven't uploaded any audio, so I can't add your music; upload an audio file first "
        '(or ask for "background music" and I will add a generated simple bed)',
        "你还没有上传音频，所以没法加你的音乐；请先上传音频文件（或者说“加背景音乐”，我会加一段自动生成的简单背景音）",
    ),
    "no_music": _no_music,
    "only_scene": _p("that would remove every scene", "这样会删掉所有场景"),
    "title_needs_text": _p(
        'tell me what the title should say, e.g. add the title "Summer Sale"',
        "请告诉我标题写什么，例如：标题：夏日促销",
    ),
    "caption_needs_text": _p(
        'tell me what the caption should say, e.g. add a caption "Free shipping" at the end',
        "请告诉我字幕写什么，例如：在结尾加字幕“包邮”",
    ),
    "caption_ambiguous": _p(
        'there are {count} captions; say which, e.g. change the caption on scene 2 to "..."',
        "有{count}条字幕，请说明改哪一条，例如：把第二个场景的字幕改成……",
    ),
    "quality_unsupported": _p(
        "the studio renders 1080p or 720p, not {quality}", "只能导出1080p或720p，不支持{quality}"
    ),
    "not_clip": _p("{scene} is a photo, so there is no clip to trim", "{scene}是照片，没有可裁剪的视频"),
    "trim_past_end": _p("{scene}'s clip is only {source} long", "{scene}的视频只有{source}"),
    "too_short": _p("a scene must last at least {minimum}", "每个场景至少要{minimum}"),
    "too_long": _p("the video can be at most {maximum} long", "视频最长{maximum}"),
    "no_position": _p(
        "there is no position {position}: the video has {count} scenes", "没有第{position}位：视频只有{count}个场景"
    ),
    "nothing_new": _p("every uploaded photo and clip is already in the video", "上传的照片和视频都已经在视频里了"),
    "motion_needs_photo": _p("{scene} is not a photo; motion applies to photos", "{scene}不是照片，动效只用于照片"),
    "nothing_to_reorder": _p("there is only one scene", "只有一个场景"),
    "no_clip_sound": _p("{scene} is not a clip, so it has no sound of its own", "{scene}不是视频，没有原声"),
}


def event(e: Event, lang: Lang) -> str:
    render = TEMPLATES.get(e.key)
    if render is None:
        return e.key
    try:
        return render(e.params, lang)
    except (KeyError, ValueError, TypeError, IndexError):
        return e.key


def describe(op: O.Op | None, lang: Lang) -> str:
    """What an operation set out to do, for "I couldn't ..." sentences."""
    zh = lang == "zh"
    if isinstance(op, O.RemoveScenes):
        what = _join([ref(r, lang) for r in op.scenes], lang)
        return f"删除{what}" if zh else f"remove {what}"
    if isinstance(op, O.MoveScene):
        return f"移动{ref(op.scene, lang)}" if zh else f"move {ref(op.scene, lang)}"
    if isinstance(op, O.SwapScenes):
        return f"交换{ref(op.a, lang)}和{ref(op.b, lang)}" if zh else f"swap {ref(op.a, lang)} and {ref(op.b, lang)}"
    if isinstance(op, O.ReplaceScene):
        return f"把{ref(op.scene, lang)}换成“{op.name}”" if zh else f'replace {ref(op.scene, lang)} with "{op.name}"'
    if isinstance(op, O.SetSceneDuration | O.Trim):
        return f"调整{ref(op.scene, lang)}" if zh else f"retime {ref(op.scene, lang)}"
    if isinstance(op, O.AddUpload):
        name = op.name or ("新上传的文件" if zh else "the new uploads")
        return f"添加“{name}”" if zh else f'add "{name}"' if op.name else f"add {name}"
    if isinstance(op, O.AddMusic):
        return "加音乐" if zh else "add the music"
    if isinstance(op, O.SetMusicVolume):
        return "调整音乐音量" if zh else "change the music volume"
    if isinstance(op, O.SetTitle):
        return "设置标题" if zh else "set the title"
    if isinstance(op, O.AddCaption):
        return "加字幕" if zh else "add the caption"
    if isinstance(op, O.RemoveCaptions):
        return "删除字幕" if zh else "remove the caption"
    if isinstance(op, O.Create):
        return "制作视频" if zh else "make the video"
    if isinstance(op, O.SetQuality):
        return "设置分辨率" if zh else "set the resolution"
    if isinstance(op, O.SetTotalDuration | O.ChangeLength | O.SetEachDuration):
        return "调整总时长" if zh else "change the length"
    if isinstance(op, O.ReverseScenes):
        return "倒转场景顺序" if zh else "reverse the scenes"
    if isinstance(op, O.SetMotion):
        return "设置动效" if zh else "set the motion"
    if isinstance(op, O.SetClipVolume):
        return "调整视频原声" if zh else "change the clip sound"
    return "完成这一步" if zh else "do that"


def reply(
    events: Sequence[Event],
    unknown: Sequence[str],
    lang: Lang,
    summary: tuple[int, int] | None,
) -> str:
    """The message to the user; ``summary`` is (length ms, scene count) of a changed draft."""
    changes = [event(e, lang) for e in events if e.kind == "change"]
    notes = [event(e, lang) for e in events if e.kind == "note"]
    fails = [(describe(e.op, lang), event(e, lang)) for e in events if e.kind == "fail"]
    parts: list[str] = []
    if lang == "zh":
        if changes:
            parts.append("已完成：" + "；".join(changes) + "。")
        if notes:
            parts.append("提示：" + "；".join(notes) + "。")
        for action, reason in fails:
            parts.append(f"没能{action}：{reason}。")
        if unknown:
            parts.append("没看懂" + "、".join(f"“{u}”" for u in unknown) + "，这部分没有处理。")
        if summary:
            parts.append(f"现在视频共{length(summary[0], lang)}，{summary[1]}个场景。")
        elif fails or unknown:
            parts.append("视频没有任何改动。")
        return "".join(parts)
    if changes:
        parts.append("Done: " + "; ".join(changes) + ".")
    if notes:
        parts.append("Note: " + "; ".join(notes) + ".")
    for action, reason in fails:
        parts.append(f"I couldn't {action}: {reason}.")
    if unknown:
        parts.append("I didn't understand " + _join([f'"{u}"' for u in unknown], lang) + ", so I left that out.")
    if summary:
        parts.append(f"The video is now {length(summary[0], lang)} long with {_count(summary[1], None, lang)}.")
    elif fails or unknown:
        parts.append("Nothing was changed.")
    return " ".join(parts)


_CAPABILITIES_EN = """\
I can make and edit the video from plain instructions, for example:
- make it from your uploads, in upload order: "make a 15-second video from my photos with the title "Summer Sale""
- make it from a description: "Make a 12-second video: Our bakery opens at 7. Fresh bread every day."
- titles and captions: "change the title to "Big Sale"", "add a caption "Free shipping" at the end", \
"add a caption "Hello" to scene 2", "remove the captions"
- shape and size: "make it vertical" (9:16, TikTok/Reels/Shorts), "square", "16:9 for YouTube", \
"4:5 for Instagram", "720p"
- music: "add my music at 35%", "set the music volume to 100%", "music quieter", "remove the music"
- scenes: "remove scene 2", "move scene 3 to the start", "swap scenes 1 and 2", "replace scene 2 with sunset.jpg", \
"make scene 1 5 seconds", "trim the clip to 4 seconds", "trim scene 2 to start at 3s", "add sunset.jpg at the end"
- length and transitions: "make it 30 seconds", "use crossfades", "hard cuts"
Several at once work too: "make it vertical and set the music to 50%"."""

_CAPABILITIES_ZH = """\
我可以按你的话制作和修改视频，例如：
- 用上传的素材按顺序制作：“用我的照片做一个15秒的视频，标题：夏日促销”
- 根据描述制作：“做一个12秒的视频：我们的面包店早上7点开门。每天都有新鲜面包。”
- 标题和字幕：“把标题改成 夏日促销”、“在第二个场景加字幕 你好”、“在结尾加字幕“包邮””、“去掉字幕”、“去掉标题”
- 画面比例：“改成竖屏”（9:16，抖音）、“横屏”（16:9）、“方形”（1:1）、“4:5”、“720p”
- 音乐：“加上我的音乐，音量35%”、“背景音乐音量调到50%”、“音乐小声一点”、“去掉音乐”
- 场景：“删除第二个场景”、“把第三个场景移到开头”、“交换第一个和第二个场景”、“把第二个场景换成 sunset.jpg”、\
“把第一个场景改成5秒”、“把视频片段剪到4秒”
- 时长和转场：“把视频改成30秒”、“用交叉淡化”、“不要转场”
也可以一次说几件事：“改成竖屏，背景音乐音量调到50%”。"""


def capabilities(language: Lang = "en") -> str:
    return _CAPABILITIES_ZH if language == "zh" else _CAPABILITIES_EN


def not_understood(lang: Lang) -> str:
    if lang == "zh":
        return "抱歉，我没看懂这条指令，视频没有任何改动。\n" + capabilities("zh")
    return "Sorry, I didn't understand that, so I changed nothing.\n" + capabilities("en")
