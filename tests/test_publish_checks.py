"""Pre-upload checks: each platform's published limits refuse what they should, in one line naming every rule."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from colourbars import set_display_rotation
from farm.errors import InputError, PolicyError
from farm.platforms import AccountInfo
from farm.platforms import platform, platform_names
from farm.publish import VideoFacts, check_upload, video_facts

UPLOAD_PLATFORMS = platform_names(outbox=True)

# The platforms' limits, written out here rather than imported, so a wrong constant cannot pass its own test.
TIKTOK_MIN_FPS, FACEBOOK_MIN_S, FACEBOOK_MAX_S, SHORTS_MAX_S = 23, 3, 90, 180


def make_video(path: Path, *, width: int = 540, height: int = 960, fps: int = 30, seconds: float = 4.0,
               codec: str = "libx264", fmt: str | None = None, audio: str | None = None) -> Path:
    """A flat red video of ``seconds`` at ``fps``: one keyframe, encoded once and muxed at every
    frame time, so a 3-minute file takes milliseconds and still reports its true rate and length."""
    out = av.open(str(path), "w", format=fmt)
    options = {"preset": "ultrafast"} if codec == "libx264" else {"deadline": "realtime", "cpu-used": "8"}
    vs = out.add_stream(codec, rate=fps, options=options)
    vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), (220, 30, 30), np.uint8), format="rgb24")
    frame = frame.reformat(format="yuv420p")
    frame.pts, frame.time_base = 0, Fraction(1, fps)
    packets = [bytes(p) for p in vs.encode(frame)] + [bytes(p) for p in vs.encode(None)]
    assert len(packets) == 1
    astream = out.add_stream(audio, rate=48000, layout="stereo") if audio else None
    for i in range(int(round(seconds * fps))):
        p = av.Packet(packets[0])
        p.stream, p.time_base, p.pts, p.dts, p.duration, p.is_keyframe = vs, Fraction(1, fps), i, i, 1, True
        out.mux(p)
    if astream is not None:
        silence = np.zeros((2, 1024), np.float32)
        for start in range(0, int(seconds * 48000), 1024):
            af = av.AudioFrame.from_ndarray(silence, format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = 48000, start, Fraction(1, 48000)
            out.mux(astream.encode(af))
        out.mux(astream.encode(None))
    out.close()
    return path


def refusal(path: Path, platform: str, **kw) -> str:
    with pytest.raises(PolicyError) as info:
        check_upload(path, platform, **kw)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """What the farm renders: 540x960 (Facebook's minimum, exactly 9:16), 30 fps, 4 s, H.264 + AAC in MP4."""
    return make_video(tmp_path_factory.mktemp("checks") / "good.mp4", audio="aac")


def test_video_facts_of_a_render(good):
    facts = video_facts(good)
    assert (facts.container, facts.video_codec, facts.audio_codec) == ("mp4", "h264", "aac")
    assert (facts.width, facts.height, facts.fps) == (540, 960, 30.0)
    assert facts.duration_s == pytest.approx(4.0, abs=0.05)
    assert facts.size_bytes == good.stat().st_size > 0
    assert facts.notes == ()
    assert VideoFacts.from_json(facts.to_json()) == facts
    assert "540x960" in repr(facts)


@pytest.mark.parametrize("platform", UPLOAD_PLATFORMS)
def test_a_good_vertical_video_passes_everywhere(good, platform):
    facts = check_upload(good, platform)
    assert facts.notes == ()  # on YouTube a vertical 4 s video is a Short: nothing to remark
    assert facts.width == 540 and facts.height == 960


def test_tiktok_uses_the_creators_own_limit(tmp_path):
    long = make_video(tmp_path / "job-7.mp4", seconds=95)
    account = AccountInfo(privacy_options=("PUBLIC_TO_EVERYONE",), max_duration_s=60)
    message = refusal(long, "tiktok", account=account)
    assert "TikTok" in message and "95.0 s" in message and "60 s" in message and "creator info" in message
    assert ";" not in message  # the duration is the only rule it breaks
    # the same file is within TikTok's own 10 minutes when the creator's limit is not known
    assert check_upload(long, "tiktok").duration_s == pytest.approx(95, abs=0.05)
    with pytest.raises(PolicyError, match="shorter than this account's 120 s minimum"):
        check_upload(long, "tiktok", account=AccountInfo(privacy_options=(), min_duration_s=120))


@pytest.mark.parametrize("seconds, words", [(2, f"shorter than Facebook's {FACEBOOK_MIN_S} s minimum"),
                                            (95, f"longer than Facebook's {FACEBOOK_MAX_S} s limit")])
def test_facebook_refuses_reels_outside_3_to_90_s(tmp_path, seconds, words):
    path = make_video(tmp_path / f"reel-{seconds}.mp4", seconds=seconds)
    message = refusal(path, "facebook")
    assert f"Facebook refuses it: {seconds:.1f} s is {words}" in message
    assert ";" not in message


def test_facebook_duration_comes_from_the_account_when_given(tmp_path):
    path = make_video(tmp_path / "reel.mp4", seconds=40)
    account = AccountInfo(privacy_options=("EVERYONE",), min_duration_s=3, max_duration_s=30)
    assert "longer than this account's 30 s limit (account info)" in refusal(path, "facebook", account=account)


def test_facebook_refuses_a_horizontal_video(tmp_path):
    wide = make_video(tmp_path / "wide.mp4", width=1024, height=576)  # 16:9, big enough otherwise
    message = refusal(wide, "facebook")
    assert "not 9:16 vertical" in message and "horizontal" in message and "1024x576" in message
    # 544x960 is 0.567 wide per high, 0.7 % off 9:16: still 9:16 within 1 %; 4:5 is not
    assert check_upload(make_video(tmp_path / "near.mp4", width=544, height=960), "facebook").width == 544
    assert "not 9:16" in refusal(make_video(tmp_path / "four-five.mp4", width=768, height=960), "facebook")


def test_tiktok_refuses_15_fps(tmp_path):
    slow = make_video(tmp_path / "slow.mp4", fps=15)
    message = refusal(slow, "tiktok")
    assert f"15 fps is below TikTok's {TIKTOK_MIN_FPS} fps minimum" in message
    assert ";" not in message
    assert check_upload(make_video(tmp_path / "film.mp4", fps=24), "tiktok").fps == 24


def test_every_broken_rule_is_named_in_one_line(tmp_path):
    tiny = make_video(tmp_path / "tiny.mp4", width=108, height=192, fps=15, seconds=2)
    message = refusal(tiny, "tiktok")
    assert "TikTok refuses it" in message
    for words in ("2.0 s is shorter than TikTok's 3 s minimum", "15 fps is below",
                  "108x192 is smaller than TikTok's 360x360"):
        assert words in message
    assert message.count(";") == 2


def test_display_size_is_after_rotation(tmp_path):
    # coded 960x540 with a phone's 90-degree display matrix: shown 540x960, a fine Reel
    phone = set_display_rotation(make_video(tmp_path / "phone.mp4", width=960, height=540), 90)
    facts = check_upload(phone, "facebook")
    assert (facts.width, facts.height) == (540, 960)


def test_containers_by_platform(tmp_path):
    mkv = make_video(tmp_path / "clip.mkv", fmt="matroska")
    assert video_facts(mkv).container == "matroska"
    assert "container matroska is not one of mov, mp4, webm" in refusal(mkv, "tiktok")
    assert "container matroska is not one of mov, mp4" in refusal(mkv, "facebook")
    assert check_upload(mkv, "local").container == "matroska"

    webm = make_video(tmp_path / "clip.webm", codec="libvpx-vp9", fmt="webm")
    assert (video_facts(webm).container, video_facts(webm).video_codec) == ("webm", "vp9")
    assert check_upload(webm, "tiktok").video_codec == "vp9"
    assert check_upload(webm, "youtube").container == "webm"
    message = refusal(webm, "facebook")
    assert "container webm" in message and "codec" not in message  # VP9 itself is fine on Facebook

    mov = make_video(tmp_path / "clip.mov", fmt="mov")
    assert video_facts(mov).container == "mov"
    assert check_upload(mov, "facebook").container == "mov"
    # the extension says nothing: the ISO family's brand decides
    odd = make_video(tmp_path / "clip.bin", fmt="mp4")
    assert video_facts(odd).container == "mp4"


def test_youtube_takes_a_horizontal_video_with_a_note(tmp_path):
    wide = make_video(tmp_path / "wide.mp4", width=320, height=180)
    facts = check_upload(wide, "youtube")
    assert len(facts.notes) == 1 and "not a Short" in facts.notes[0] and "horizontal" in facts.notes[0]


def test_youtube_takes_a_long_vertical_video_with_a_note(tmp_path):
    at_limit = make_video(tmp_path / "three-minutes.mp4", seconds=SHORTS_MAX_S, fps=24, width=90, height=160)
    assert check_upload(at_limit, "youtube").notes == ()
    longer = make_video(tmp_path / "longer.mp4", seconds=SHORTS_MAX_S + 1, fps=24, width=90, height=160)
    facts = check_upload(longer, "youtube")
    assert facts.duration_s == pytest.approx(181, abs=0.05)
    assert len(facts.notes) == 1 and "181.0 s" in facts.notes[0] and "not a Short" in facts.notes[0]
    assert json.loads(facts.to_json())["notes"] == list(facts.notes)


@pytest.mark.parametrize("platform", UPLOAD_PLATFORMS)
def test_a_file_that_is_not_a_video_is_an_input_error_naming_it(tmp_path, platform):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(InputError) as info:
        check_upload(junk, platform)
    assert not isinstance(info.value, PolicyError)
    assert str(junk) in str(info.value)
    with pytest.raises(InputError, match="file not found"):
        video_facts(tmp_path / "missing.mp4")


def test_an_unknown_platform_says_what_is_supported(good):
    supported = r"Invalid platform \('instagram'\)\. Supported: tiktok, youtube, facebook, local\."
    with pytest.raises(InputError, match=supported):
        check_upload(good, "instagram")  # type: ignore[arg-type]


def test_specs_cover_every_platform():
    assert all(platform(name).spec.name for name in UPLOAD_PLATFORMS)
    local = platform("local").spec
    assert local.containers is None and local.video_codecs is None and local.max_duration_s is None
