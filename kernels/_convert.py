"""Any source's Y'CbCr to BT.709 limited range: matrix, range, bit depth, primaries, HDR tone mapping.

Decoders hand over code values untouched (libswscale only resamples them); every colour
conversion happens here, in torch, so the CPU and the CUDA paths convert the same way and
no FFmpeg version can change the answer.

What is converted, and how:

- BT.709 limited range, SDR: nothing (the code values pass, super-white and super-black
  included).
- Another matrix (BT.601, BT.2020) or full range, SDR: a linear map on the code values.
  Neutral greys stay neutral, so chroma depends only on chroma and luma gains a small
  chroma term; nothing is clipped in RGB, so out-of-gamut code values survive as far as
  8 bits allow. BT.601's primaries are close to BT.709's and, as players and FFmpeg's
  scale filter do, only the matrix is converted.
- BT.2020 primaries, SDR: linear light through the BT.709/BT.2020 transfer function, the
  BT.2020 -> BT.709 primaries matrix, a clip into the BT.709 gamut, back.
- HDR (PQ or HLG): display light in nits (HLG through its OOTF for a 1000 nit display),
  the BT.2020 -> BT.709 primaries matrix, then the BT.2390 EETF (in PQ space, on each
  pixel's max RGB) compresses everything from a knee below HDR reference white up to the
  source's peak into SDR white (203 nits, BT.2408): mid-grey and skin stay where an SDR
  grade puts them, highlights roll off instead of clipping; then the gamut clip and
  BT.1886 (gamma 2.4) encoding, as a tone-mapping player shows it on an SDR screen.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kernels._planes import Planes
from kernels._source import HLG_PEAK_NITS, SDR_WHITE_NITS, SourceColour

# (Kr, Kb) of each Y'CbCr matrix.
_K = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114), "bt2020": (0.2627, 0.0593)}

# Linear BT.2020 RGB -> linear BT.709 RGB (ITU-R BT.2087 / BT.2407, from the primaries).
BT2020_TO_BT709 = (
    (1.6604910, -0.5876411, -0.0728499),
    (-0.1245505, 1.1328999, -0.0083494),
    (-0.0181508, -0.1005789, 1.1187297),
)



# --- Y'CbCr <-> R'G'B' ---------------------------------------------------------------


def _normalise_luma(codes: torch.Tensor, src: SourceColour) -> torch.Tensor:
    """Luma code values to float Y' in [0, 1] (nominal)."""
    scale = float(1 << (src.bits - 8))
    if src.range == "tv":
        return (codes.float() - 16 * scale) / (219 * scale)
    return codes.float() / float((1 << src.bits) - 1)


def _normalise_chroma(codes: torch.Tensor, src: SourceColour) -> torch.Tensor:
    """Chroma code values to float Cb or Cr in [-0.5, 0.5] (nominal)."""
    scale = float(1 << (src.bits - 8))
    div = 224 * scale if src.range == "tv" else float((1 << src.bits) - 1)
    return (codes.float() - 128 * scale) / div


def _normalise(y: torch.Tensor, u: torch.Tensor, v: torch.Tensor, src: SourceColour):
    """Code values to float Y' in [0, 1] and Cb, Cr in [-0.5, 0.5] (nominal)."""
    return _normalise_luma(y, src), _normalise_chroma(u, src), _normalise_chroma(v, src)


def _to_codes(yn: torch.Tensor, un: torch.Tensor, vn: torch.Tensor) -> Planes:
    """Float Y'CbCr to 8-bit BT.709 limited-range code values."""
    return Planes(
        yn.mul_(219).add_(16).round_().clamp_(0, 255).to(torch.uint8),
        un.mul_(224).add_(128).round_().clamp_(0, 255).to(torch.uint8),
        vn.mul_(224).add_(128).round_().clamp_(0, 255).to(torch.uint8),
    )


def _ycbcr_to_rgb(y, cb, cr, matrix: str):
    kr, kb = _K[matrix]
    kg = 1.0 - kr - kb
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / kg
    return r, g, b


def _rgb_to_ycbcr(r, g, b, matrix: str):
    kr, kb = _K[matrix]
    y = kr * r + (1.0 - kr - kb) * g + kb * b
    return y, (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))


def _matrix_map(src: str) -> tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]:
    """The 3x3 map from ``src`` (Y', Cb, Cr) to BT.709 (Y', Cb, Cr) for the same R'G'B'."""
    cols = []
    for unit in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)):
        rgb = _ycbcr_to_rgb(*unit, src)
        cols.append(_rgb_to_ycbcr(*rgb, "bt709"))
    return tuple(tuple(cols[c][r] for c in range(3)) for r in range(3))  # type: ignore[return-value]


def _up2(c: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest 2x upsampling of a chroma plane to (height, width) (odd sizes cut)."""
    return c.repeat_interleave(2, -2).repeat_interleave(2, -1)[..., :height, :width]


def _down2(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """2x2 average of a full-resolution plane onto the chroma grid (edges replicated)."""
    ph, pw = height * 2 - x.shape[-2], width * 2 - x.shape[-1]
    if ph > 0 or pw > 0:
        x = F.pad(x[None, None], (0, max(0, pw), 0, max(0, ph)), mode="replicate")[0, 0]
    return F.avg_pool2d(x[None, None, : height * 2, : width * 2], 2)[0, 0]


# --- transfer functions ------------------------------------------------------------------

_PQ_M1, _PQ_M2 = 2610 / 16384, 2523 / 4096 * 128
_PQ_C1, _PQ_C2, _PQ_C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * math.log(4 * _HLG_A)


def pq_eotf(e: torch.Tensor) -> torch.Tensor:
    """SMPTE ST 2084: signal in [0, 1] to luminance in nits."""
    p = e.clamp(0, 1).pow(1 / _PQ_M2)
    return ((p - _PQ_C1).clamp_(min=0) / (_PQ_C2 - _PQ_C3 * p)).pow_(1 / _PQ_M1) * 10000.0


def pq_inverse_eotf(nits: torch.Tensor) -> torch.Tensor:
    """Luminance in nits to the SMPTE ST 2084 signal in [0, 1]."""
    y = (nits / 10000.0).clamp(0, 1).pow(_PQ_M1)
    return ((_PQ_C1 + _PQ_C2 * y) / (1 + _PQ_C3 * y)).pow_(_PQ_M2)


def _pq_scalar(nits: float) -> float:
    y = (nits / 10000.0) ** _PQ_M1
    return ((_PQ_C1 + _PQ_C2 * y) / (1 + _PQ_C3 * y)) ** _PQ_M2


def hlg_inverse_oetf(e: torch.Tensor) -> torch.Tensor:
    """ARIB STD-B67 / BT.2100 HLG: signal in [0, 1] to scene linear light in [0, 1]."""
    e = e.clamp(0, 1)
    low = e * e / 3
    high = (torch.exp((e - _HLG_C) / _HLG_A) + _HLG_B) / 12
    return torch.where(e <= 0.5, low, high)


def bt709_inverse_oetf(e: torch.Tensor) -> torch.Tensor:
    """The BT.709 (and 10-bit BT.2020) camera curve inverted: signal to scene linear light."""
    e = e.clamp(-0.0, 1.0)
    return torch.where(e < 0.081, e / 4.5, ((e + 0.099) / 1.099).pow(1 / 0.45))


def bt709_oetf(x: torch.Tensor) -> torch.Tensor:
    """The BT.709 camera curve: scene linear light in [0, 1] to signal."""
    x = x.clamp(0, 1)
    return torch.where(x < 0.018, 4.5 * x, 1.099 * x.pow(0.45) - 0.099)


def bt2390_eetf(nits: torch.Tensor, *, source_peak_nits: float, target_peak_nits: float) -> torch.Tensor:
    """ITU-R BT.2390 EETF: compress luminance above a knee into ``target_peak_nits``.

    Works in PQ space, normalised to the source peak; luminance below the knee
    ``KS = 1.5 * maxLum - 0.5`` (maxLum: the target's normalised PQ level; about 88 nits
    for a 1000-nit source into 203) is unchanged; the source peak lands exactly on the
    target peak. Brighter sources put the knee lower (about 40 nits for 4000).
    """
    if source_peak_nits <= target_peak_nits:
        return nits.clamp(0, target_peak_nits)
    src_pq = _pq_scalar(source_peak_nits)
    max_lum = _pq_scalar(target_peak_nits) / src_pq
    ks = 1.5 * max_lum - 0.5
    e1 = (pq_inverse_eotf(nits) / src_pq).clamp_(0, 1)
    t = (e1 - ks) / (1 - ks)
    t2, t3 = t * t, t * t * t
    spline = (2 * t3 - 3 * t2 + 1) * ks + (t3 - 2 * t2 + t) * (1 - ks) + (-2 * t3 + 3 * t2) * max_lum
    e2 = torch.where(e1 < ks, e1, spline)
    return pq_eotf(e2 * src_pq)


def fit_gamut(r: torch.Tensor, g: torch.Tensor, b: torch.Tensor):
    """Bring linear BT.709 RGB into [0, 1] channel by channel.

    A colour outside the BT.709 triangle has a negative channel; clipping it lands the
    colour on the triangle's edge with its hue (a BT.2020 red becomes BT.709's reddest
    red, not a pink). HDR has already been scaled on max RGB, so only SDR BT.2020 colours
    brighter than BT.709 can show reach above 1 and are clipped as players clip them.
    """
    return tuple(c.clamp(0, 1) for c in (r, g, b))


def _linear_rgb(yn, un, vn, src: SourceColour):
    """Normalised Y'CbCr of ``src`` to linear BT.709 RGB where 1.0 is SDR white."""
    r, g, b = _ycbcr_to_rgb(yn, un, vn, src.matrix)
    if src.transfer == "pq":
        r, g, b = (pq_eotf(c) for c in (r, g, b))
    elif src.transfer == "hlg":
        r, g, b = (hlg_inverse_oetf(c) for c in (r, g, b))
        kr, kb = _K["bt2020"] if src.primaries == "bt2020" else _K["bt709"]
        ys = kr * r + (1 - kr - kb) * g + kb * b
        gain = HLG_PEAK_NITS * ys.clamp(min=1e-6).pow(0.2)  # BT.2100 OOTF, system gamma 1.2
        r, g, b = r * gain, g * gain, b * gain
    else:
        r, g, b = (bt709_inverse_oetf(c) for c in (r, g, b))
    if src.primaries == "bt2020":
        m = BT2020_TO_BT709
        r, g, b = (m[i][0] * r + m[i][1] * g + m[i][2] * b for i in range(3))
    if src.is_hdr:
        # Tone-map on each pixel's brightest channel (max RGB), scaling all three alike:
        # greys map as luminance would, and a bright saturated colour stays saturated
        # (it only gets darker) instead of washing out to white.
        r, g, b = r.clamp(min=0), g.clamp(min=0), b.clamp(min=0)
        peak = HLG_PEAK_NITS if src.transfer == "hlg" else src.peak_nits
        top = torch.maximum(torch.maximum(r, g), b)
        gain = _eetf_gain(top, peak)
        r, g, b = r * gain, g * gain, b * gain
    return fit_gamut(r, g, b)


_EETF_STEPS = 4096
_EETF_TABLES: dict[tuple[float, str], tuple[float, torch.Tensor]] = {}


def _eetf_gain(nits: torch.Tensor, peak_nits: float) -> torch.Tensor:
    """BT.2390 EETF gain (output relative to SDR white, per input nit) by table.

    Below the knee the EETF is the identity; above it, it is smooth in linear light, so a
    4096-step table with linear interpolation matches the formula to a fraction of a level
    at a fraction of the cost of its PQ round trip.
    """
    key = (float(peak_nits), str(nits.device))
    entry = _EETF_TABLES.get(key)
    if entry is None:
        xs = torch.linspace(0.0, peak_nits, _EETF_STEPS + 1, dtype=torch.float64)
        ys = bt2390_eetf(xs, source_peak_nits=peak_nits, target_peak_nits=SDR_WHITE_NITS)
        changed = (ys - xs).abs() > 1e-6 * xs.clamp(min=1.0)
        knee = float(xs[changed.nonzero()[0, 0] - 1]) if bool(changed.any()) else float(peak_nits)
        entry = (knee, ys.to(torch.float32).to(nits.device))
        _EETF_TABLES[key] = entry
    knee, table = entry
    pos = (nits.clamp(0, peak_nits) * (_EETF_STEPS / peak_nits))
    lo = pos.floor()
    frac = pos - lo
    lo = lo.long().clamp_(max=_EETF_STEPS - 1)
    mapped = table[lo] * (1 - frac) + table[lo + 1] * frac
    mapped = torch.where(nits <= knee, nits.clamp(max=SDR_WHITE_NITS), mapped)
    return mapped / (nits.clamp(min=1e-6) * SDR_WHITE_NITS)


def _encode_sdr(r, g, b, src: SourceColour):
    """Linear BT.709 RGB in [0, 1] back to normalised BT.709 Y'CbCr."""
    if src.is_hdr:  # display light: BT.1886 on an SDR screen
        r, g, b = (c.pow(1 / 2.4) for c in (r, g, b))
    else:  # scene light, the way it came
        r, g, b = (bt709_oetf(c) for c in (r, g, b))
    return _rgb_to_ycbcr(r, g, b, "bt709")


def convert_to_bt709(planes: Planes, *, source: SourceColour) -> Planes:
    """Convert 4:2:0 ``planes`` holding ``source``'s code values to 8-bit BT.709 limited range.

    The planes may be uint8, int16 or uint16 (for more than 8 bits), on any device; the
    values are least-significant-bit aligned (a GPU decoder's P016, whose bits sit at the
    top of each sample, is shifted down by ``16 - bits`` first). The result is new uint8
    planes on the same device. Already-BT.709 8-bit input is returned as it is.
    """
    if source.is_output_space:
        return planes
    h, w = planes.y.shape[-2:]
    ch, cw = planes.u.shape[-2:]
    if not source.needs_colour_change or (not source.is_hdr and source.primaries != "bt2020"):
        yn, un, vn = _normalise(planes.y, planes.u, planes.v, source)
        if not source.needs_colour_change or source.matrix == "bt709":  # depth or range only
            return _to_codes(yn, un, vn)
        # Greys stay grey, so chroma depends on chroma alone and luma gains chroma terms.
        m = _matrix_map(source.matrix)
        y_out = yn + m[0][1] * _up2(un, h, w) + m[0][2] * _up2(vn, h, w)
        u_out = m[1][1] * un + m[1][2] * vn
        v_out = m[2][1] * un + m[2][2] * vn
        return _to_codes(y_out, u_out, v_out)
    # Non-linear. Within a 4:2:0 block the chroma is one value, so each pixel's output luma
    # is a function of its own luma alone: the chain runs at the block's darkest and
    # brightest luma (two evaluations on the chroma grid, a quarter of the pixels each)
    # and every pixel is interpolated between the two by its luma. Exact in flat areas
    # and on straight stretches of the curve; against the per-pixel chain on noisy,
    # saturated content, luma PSNR above 50 dB. Chroma is the mean of the two ends.
    yf = planes.y.float()
    blocks = F.pad(yf[None, None], (0, cw * 2 - w, 0, ch * 2 - h), mode="replicate")
    lo_codes = -F.max_pool2d(-blocks, 2)[0, 0]
    hi_codes = F.max_pool2d(blocks, 2)[0, 0]
    un, vn = _normalise_chroma(planes.u, source), _normalise_chroma(planes.v, source)
    y_lo, u_lo, v_lo = _encode_sdr(*_linear_rgb(_normalise_luma(lo_codes, source), un, vn, source), source)
    y_hi, u_hi, v_hi = _encode_sdr(*_linear_rgb(_normalise_luma(hi_codes, source), un, vn, source), source)
    t = (yf - _up2(lo_codes, h, w)).div_(_up2((hi_codes - lo_codes).clamp_(min=1e-6), h, w))
    y_out = torch.lerp(_up2(y_lo, h, w), _up2(y_hi, h, w), t)
    return _to_codes(y_out, (u_lo + u_hi).mul_(0.5), (v_lo + v_hi).mul_(0.5))
