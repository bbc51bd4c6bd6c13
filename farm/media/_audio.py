"""Audio: decode any layout and rate to 48 kHz stereo float, and build a mashup's soundtrack."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from farm.media._probe import audio_stream, describe_av_error, input_error, open_input

SAMPLE_RATE = 48_000
CHANNELS = 2
MUSIC_FADE_S = 1.0
# Timestamps further apart than this (50 ms) from the samples decoded so far mark a gap.
GAP_SAMPLES = SAMPLE_RATE // 20


def decode_audio(path: str, *, origin_s: float = 0.0, max_s: float | None = None) -> np.ndarray:
    """Decode the default audio stream of ``path`` to a (2, n) float32 array at 48 kHz.

    Samples are placed by their timestamps relative to ``origin_s`` (the video's first
    timestamp, to keep A/V sync): audio that starts late gets leading silence, and a gap
    in the timestamps (or a stretch of packets too damaged to decode, which is skipped
    with a warning) stays silent, so what follows keeps its sync. Decoding stops after
    ``max_s`` seconds when given.
    """
    chunks: list[np.ndarray] = []
    damaged = 0
    damaged_at: float | None = None
    with open_input(path) as container:
        stream = audio_stream(container)
        if stream is None:
            raise input_error(path, "has no audio stream")
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        total = 0
        started = False
        limit = int(max_s * SAMPLE_RATE) if max_s is not None else None
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    damaged += 1
                    if damaged_at is None and packet.pts is not None and packet.time_base is not None:
                        damaged_at = float(packet.pts * packet.time_base)
                    continue
                for frame in frames:
                    t = frame.time  # read before resampling, which clears the timestamps
                    arr = _resampled(resampler, frame)
                    if t is not None:
                        at = int(round((t - origin_s) * SAMPLE_RATE))
                        if not started and at > 0:  # starts after the video: leading silence
                            chunks.append(np.zeros((CHANNELS, at), np.float32))
                            total = at
                        elif not started and at < 0:  # starts before the video: drop that part
                            arr = arr[:, min(-at, arr.shape[1]) :]
                        elif started and at > total + GAP_SAMPLES:  # a gap (or skipped damage): silence
                            chunks.append(np.zeros((CHANNELS, at - total), np.float32))
                            total = at
                    if arr.shape[1]:
                        started = True
                    chunks.append(arr)
                    total += arr.shape[1]
                if limit is not None and total >= limit:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().astype(np.float32, copy=False))
        except av.error.FFmpegError as err:
            if not chunks:
                raise input_error(path, f"audio data is damaged ({describe_av_error(err)})") from None
            damaged += 1
    if damaged:
        if not chunks:
            raise input_error(path, "audio data is damaged (no packet decodes)")
        where = f" from {damaged_at:.1f} s" if damaged_at is not None else ""
        print(
            f"warning: {path}: {damaged} damaged audio packet(s){where} skipped; silence in their place",
            file=sys.stderr,
        )
    if not chunks:
        return np.zeros((CHANNELS, 0), np.float32)
    out = np.concatenate(chunks, axis=1)
    return out[:, :limit] if limit is not None else out


def _resampled(resampler: av.AudioResampler, frame: av.AudioFrame) -> np.ndarray:
    frame.pts = None  # resample by sample count; timestamps were handled above
    parts = [f.to_ndarray().astype(np.float32, copy=False) for f in resampler.resample(frame)]
    if not parts:
        return np.zeros((CHANNELS, 0), np.float32)
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def fit_length(samples: np.ndarray, n: int, *, loop: bool) -> np.ndarray:
    """Cut ``samples`` to ``n`` samples, or pad with silence (or loop it when ``loop``)."""
    have = samples.shape[1]
    if have >= n:
        return samples[:, :n]
    if loop and have > 0:
        reps = -(-n // have)
        return np.tile(samples, (1, reps))[:, :n]
    out = np.zeros((CHANNELS, n), np.float32)
    out[:, :have] = samples
    return out


def fade_edges(samples: np.ndarray, *, fade_in_s: float, fade_out_s: float) -> None:
    """Linear fade in and out, in place."""
    n = samples.shape[1]
    for length, head in ((int(fade_in_s * SAMPLE_RATE), True), (int(fade_out_s * SAMPLE_RATE), False)):
        length = min(length, n)
        if length <= 0:
            continue
        ramp = np.linspace(0.0, 1.0, length, endpoint=False, dtype=np.float32)
        if head:
            samples[:, :length] *= ramp
        else:
            samples[:, n - length :] *= ramp[::-1]


@dataclass(frozen=True)
class AudioClip:
    """One main clip's sound on the output timeline: from ``path``, placed at ``start_s``."""

    path: str | None  # None: the clip has no audio
    origin_s: float
    start_s: float
    duration_s: float
    fade_in_s: float
    fade_out_s: float


def build_soundtrack(
    clips: list[AudioClip],
    *,
    duration_s: float,
    music_path: str | None,
    music_volume: float,
    fade_s: float,
    decode_music: Callable[[str, float], np.ndarray] | None = None,
) -> np.ndarray:
    """The output's (2, n) float32 soundtrack at 48 kHz.

    Main clips are laid on the timeline with linear crossfades where they overlap; the
    music is trimmed (or looped) to length, faded in and out, and mixed under the main
    sound at ``music_volume``, or alone at full level when no main clip has sound. The
    whole mix then fades in from and out to silence with the picture. With neither main
    sound nor music the result is silence, so the file still carries an audio track.
    ``decode_music(path, max_s)`` replaces decoding the music (a worker's cache).
    """
    n = int(round(duration_s * SAMPLE_RATE))
    mix = np.zeros((CHANNELS, n), np.float32)
    cache: dict[tuple[str, float], np.ndarray] = {}
    any_main = False
    for clip in clips:
        if clip.path is None:
            continue
        key = (clip.path, clip.origin_s)
        if key not in cache:
            cache[key] = decode_audio(clip.path, origin_s=clip.origin_s)
        start = int(round(clip.start_s * SAMPLE_RATE))
        if start >= n:
            continue
        length = min(int(round(clip.duration_s * SAMPLE_RATE)), n - start)
        part = fit_length(cache[key], length, loop=False).copy()
        fade_edges(part, fade_in_s=clip.fade_in_s, fade_out_s=clip.fade_out_s)
        mix[:, start : start + length] += part
        any_main = True
    if music_path is not None:
        decoded = decode_music(music_path, duration_s) if decode_music else decode_audio(music_path, max_s=duration_s)
        music = fit_length(decoded, n, loop=True).copy()
        music_fade = min(MUSIC_FADE_S, duration_s / 4)
        fade_edges(music, fade_in_s=music_fade, fade_out_s=music_fade)
        mix += music * (music_volume if any_main else 1.0)
    fade_edges(mix, fade_in_s=fade_s, fade_out_s=fade_s)
    np.clip(mix, -1.0, 1.0, out=mix)
    return mix


# voice-over: music ducked under speech by this much, with these attack and release times
DUCK_DB = -12.0
DUCK_ATTACK_S = 0.08
DUCK_RELEASE_S = 0.35
VOICE_LEVEL = 0.9


def speech_envelope(voice: np.ndarray, *, window_s: float = 0.02, threshold_db: float = -40.0) -> np.ndarray:
    """Per sample, 1.0 where ``voice`` (2, n) is speaking (its RMS over ``window_s`` above
    ``threshold_db`` of full scale), else 0.0."""
    n = voice.shape[1]
    win = max(1, int(window_s * SAMPLE_RATE))
    mono = voice.mean(axis=0)
    blocks = -(-n // win)
    padded = np.zeros(blocks * win, np.float32)
    padded[:n] = mono
    rms = np.sqrt((padded.reshape(blocks, win) ** 2).mean(axis=1))
    active = (rms > 10 ** (threshold_db / 20)).astype(np.float32)
    return np.repeat(active, win)[:n]


def duck_gain(active: np.ndarray, *, duck_db: float = DUCK_DB, attack_s: float = DUCK_ATTACK_S,
              release_s: float = DUCK_RELEASE_S) -> np.ndarray:
    """The music's gain per sample: 1.0 in silence, ``duck_db`` under speech, moving there
    linearly over ``attack_s`` and back over ``release_s`` (no clicks, no pumping)."""
    low = 10 ** (duck_db / 20)
    target = 1.0 - (1.0 - low) * active
    down, up = (1.0 - low) / max(1, attack_s * SAMPLE_RATE), (1.0 - low) / max(1, release_s * SAMPLE_RATE)
    # a linear slew limiter over blocks of 256 samples, then interpolated per sample: smooth,
    # and a promo's 1.4 M samples take a few thousand steps
    step = 256
    starts = np.arange(0, len(target), step)
    levels = np.empty(len(starts) + 1, np.float64)
    g = levels[0] = 1.0
    for k, i in enumerate(starts):
        want = float(target[i:i + step].min())
        g = max(want, g - down * step) if want < g else min(want, g + up * step)
        levels[k + 1] = g
    knots = np.append(starts, len(target)).astype(np.float64)
    return np.interp(np.arange(len(target)), knots, levels).astype(np.float32)


def build_promo_soundtrack(*, duration_s: float, music_path: str | None, music_volume: float = 1.0,
                           voice_paths: list[str] | None = None, voice_starts_s: list[float] | None = None,
                           fade_out_s: float = 1.5) -> np.ndarray:
    """A promo's (2, n) float32 soundtrack at 48 kHz: the music looped or trimmed, faded in and
    out, with the voice-over lines (when given) placed at their start times and the music
    ducked under them."""
    n = int(round(duration_s * SAMPLE_RATE))
    mix = np.zeros((CHANNELS, n), np.float32)
    voice = np.zeros((CHANNELS, n), np.float32)
    for path, start_s in zip(voice_paths or [], voice_starts_s or []):
        start = int(round(start_s * SAMPLE_RATE))
        if start >= n:
            continue
        line = decode_audio(path)
        length = min(line.shape[1], n - start)
        voice[:, start:start + length] += line[:, :length] * VOICE_LEVEL
    if music_path is not None:
        music = fit_length(decode_audio(music_path, max_s=duration_s), n, loop=True).copy()
        fade_edges(music, fade_in_s=min(0.5, duration_s / 4), fade_out_s=min(fade_out_s, duration_s / 4))
        music *= music_volume
        if voice_paths:
            music *= duck_gain(speech_envelope(voice))
        mix += music
    mix += voice
    np.clip(mix, -1.0, 1.0, out=mix)
    return mix
