"""The CLI as users meet it: success output, --json, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import BLUE, RED, flat_clip, run_farm
from farm.samples import make_audio, make_video


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("good")
    return {
        "main": flat_clip(root / "main.mp4", RED, seconds=0.5),
        "template": flat_clip(root / "tmpl.mp4", BLUE, seconds=0.5, width=180, height=320),
        "music": make_audio(root / "music.m4a", seconds=1.0),
        "root": root,
    }


def test_mashup_json_and_text_output(tmp_path, good):
    out = tmp_path / "clip.mp4"
    proc = run_farm("mashup", str(good["main"]), "--template", str(good["template"]), "-o", str(out), "--json",
                    "--music", str(good["music"]), "--caption", "Hello", "--attribution", "Source: @me", "--encoder", "libx264")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["path"] == str(out) and data["frames"] == 15 and data["encoder"] == "libx264"
    assert len(data["sha256"]) == 64 and data["size_bytes"] == out.stat().st_size
    proc = run_farm("mashup", str(good["main"]), "--template", str(good["template"]), "-o", str(tmp_path / "b.mp4"), "-q")
    assert proc.returncode == 0 and "b.mp4" in proc.stdout


def _bad_files(root: Path, ffmpeg: str) -> dict[str, Path]:
    files = {}
    files["empty"] = root / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["text"] = root / "notes.mp4"
    files["text"].write_text("this is not a video\n" * 50)
    files["audio_only"] = make_audio(root / "song.m4a", seconds=1.0)
    sample = make_video(root / "sample.mp4", width=320, height=180, seconds=3.0, audio_hz=440.0)
    data = sample.read_bytes()
    files["truncated_moov_last"] = root / "cut.mp4"
    files["truncated_moov_last"].write_bytes(data[: len(data) // 2])
    fast = root / "fast.mp4"
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-i", str(sample), "-c", "copy", "-movflags", "+faststart", str(fast)], check=True)
    fdata = fast.read_bytes()
    files["truncated_faststart"] = root / "cut_fast.mp4"
    files["truncated_faststart"].write_bytes(fdata[: len(fdata) // 3])
    files["missing"] = root / "nope.mp4"
    return files


@pytest.fixture(scope="module")
def bad(tmp_path_factory, ffmpeg):
    return _bad_files(tmp_path_factory.mktemp("bad"), ffmpeg)


def assert_clean_failure(proc, out: Path, name: str, code: int = 2):
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert name in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".part")], "temp file left behind"


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "audio_only", "truncated_moov_last", "truncated_faststart"])
def test_bad_main(tmp_path, good, bad, kind):
    out = tmp_path / "out.mp4"
    proc = run_farm("mashup", str(bad[kind]), "--template", str(good["template"]), "-o", str(out))
    assert_clean_failure(proc, out, bad[kind].name)


def test_bad_main_among_good_ones(tmp_path, good, bad):
    out = tmp_path / "out.mp4"
    proc = run_farm("mashup", str(good["main"]), str(bad["text"]), "--template", str(good["template"]), "-o", str(out))
    assert_clean_failure(proc, out, bad["text"].name)


@pytest.mark.parametrize("kind", ["missing", "text", "audio_only"])
def test_bad_template(tmp_path, good, bad, kind):
    out = tmp_path / "out.mp4"
    proc = run_farm("mashup", str(good["main"]), "--template", str(bad[kind]), "-o", str(out))
    assert_clean_failure(proc, out, bad[kind].name)


@pytest.mark.parametrize("kind", ["missing", "text", "empty"])
def test_bad_music(tmp_path, good, bad, kind):
    out = tmp_path / "out.mp4"
    proc = run_farm("mashup", str(good["main"]), "--template", str(good["template"]), "-o", str(out), "--music", str(bad[kind]))
    assert_clean_failure(proc, out, bad[kind].name)


def test_truncated_faststart_fails_during_render_and_cleans_up(tmp_path, good, bad):
    # this one opens fine and only shows its damage while decoding
    out = tmp_path / "out.mp4"
    proc = run_farm("mashup", str(bad["truncated_faststart"]), "--template", str(good["template"]), "-o", str(out))
    assert_clean_failure(proc, out, "cut_fast.mp4")


def test_bad_options_are_one_line(tmp_path, good):
    out = tmp_path / "out.mp4"
    proc = run_farm("mashup", str(good["main"]), "--template", str(good["template"]), "-o", str(out), "--preset", "warp9")
    assert_clean_failure(proc, out, "warp9")
    proc = run_farm("mashup", str(good["main"]), "--template", str(good["template"]), "-o", str(tmp_path / "x.mov.txt"))
    assert proc.returncode == 2 and "x.mov.txt" in proc.stderr
    proc = run_farm("mashup", str(good["main"]), "--template", str(good["template"]), "-o", str(tmp_path / "no" / "dir.mp4"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_nvenc_unavailable_here_is_a_clear_error(tmp_path, good):
    from farm.media import probe_nvenc

    if probe_nvenc()[0]:
        pytest.skip("this machine has NVENC")
    out = tmp_path / "out.mp4"
    proc = run_farm("mashup", str(good["main"]), "--template", str(good["template"]), "-o", str(out), "--encoder", "nvenc")
    assert_clean_failure(proc, out, "nvenc", code=3)
