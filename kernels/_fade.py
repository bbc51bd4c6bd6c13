"""Fades to and from black, and crossfades between two frames, in limited-range YUV."""

from __future__ import annotations

import torch

from kernels._planes import BLACK_Y, NEUTRAL_C, Planes

_ONE = 256  # fixed-point unit for the weights


def _weight(level: float) -> int:
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"fade level must be within [0, 1], got {level}")
    return int(round(level * _ONE))


def fade_to_black(planes: Planes, *, level: float) -> None:
    """Scale ``planes`` towards black in place: level 1 leaves it, level 0 is black.

    Black in limited range is Y=16, U=V=128, so luma is scaled about 16 and chroma
    about 128; scaling about 0 would tint the picture green as it fades.
    """
    k = _weight(level)
    if k == _ONE:
        return
    for plane, centre in ((planes.y, BLACK_Y), (planes.u, NEUTRAL_C), (planes.v, NEUTRAL_C)):
        if k == 0:
            plane.fill_(centre)
            continue
        t = plane.to(torch.int32)
        t.sub_(centre).mul_(k).add_(centre * _ONE + _ONE // 2)
        t.div_(_ONE, rounding_mode="floor").clamp_(0, 255)
        plane.copy_(t)


def fade_frames_to_black(planes: Planes, *, levels: list[float]) -> None:
    """:func:`fade_to_black` over a batch in one call: frame ``k`` of ``planes`` (planes with a
    leading dimension) to ``levels[k]``, in place, with the same fixed-point arithmetic, so
    each frame comes out exactly as :func:`fade_to_black` would make it."""
    ks = [_weight(level) for level in levels]
    if len(ks) != planes.y.shape[0]:
        raise ValueError(f"{len(ks)} levels for a batch of {planes.y.shape[0]} frames")
    if all(k == _ONE for k in ks):
        return
    weights = torch.tensor(ks, dtype=torch.int32, device=planes.device).view(-1, 1, 1)
    for plane, centre in ((planes.y, BLACK_Y), (planes.u, NEUTRAL_C), (planes.v, NEUTRAL_C)):
        t = plane.to(torch.int32)
        t.sub_(centre).mul_(weights).add_(centre * _ONE + _ONE // 2)
        t.div_(_ONE, rounding_mode="floor").clamp_(0, 255)
        plane.copy_(t)


def crossfade(a: Planes, b: Planes, *, weight: float, out: Planes | None = None) -> Planes:
    """``a`` * (1 - weight) + ``b`` * weight, written into ``out`` (default: ``a``)."""
    k = _weight(weight)
    dst = a if out is None else out
    for pa, pb, pd in zip(a, b, dst):
        if k == 0:
            if pd is not pa:
                pd.copy_(pa)
            continue
        if k == _ONE:
            pd.copy_(pb)
            continue
        t = pa.to(torch.int32).mul_(_ONE - k)
        t.add_(pb.to(torch.int32).mul_(k)).add_(_ONE // 2).div_(_ONE, rounding_mode="floor")
        pd.copy_(t)
    return dst


def fade_level(t_s: float, *, duration_s: float, fade_s: float) -> float:
    """The picture level at time ``t_s`` of a clip of ``duration_s`` with fades of ``fade_s``.

    Frames are sampled at their start time, so the first frame is black and the level
    climbs linearly; the last frame's level is one frame's worth above black.
    """
    if fade_s <= 0:
        return 1.0
    level = min(1.0, t_s / fade_s, (duration_s - t_s) / fade_s)
    return max(0.0, level)
