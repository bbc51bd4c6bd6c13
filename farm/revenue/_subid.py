"""Sub-ids: the short id each post's affiliate link carries, so a sale is traced to one job on one platform.

A sub-id is ``{prefix}{job_id}{platform code}``, e.g. ``rf42ti``: ASCII letters and digits only
(Shopee refuses ``_``, ``-``, ``.`` and accents in sub-ids; AccessTrade passes ``utm_content``
through), at most 20 characters. The prefix (``[affiliate] sub_id_prefix``) tells two farms on one
affiliate account apart; the job id is unique in a workspace; the platform code is made of letters
only, so the digits of the job id end where it begins and no two (job, platform) pairs can give the
same sub-id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from farm.errors import InputError
from farm.platforms import platform_names

SUB_ID_MAX_CHARS = 20
PREFIX_MAX_CHARS = 8
_ALNUM = re.compile(r"^[A-Za-z0-9]+$")
_CODE_MIN_CHARS = 2


def _letters(name: str) -> str:
    """The ASCII letters of a platform's name, lower case (accents dropped, digits and '_' too)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in plain.lower() if "a" <= c <= "z")


def _hash_letters(name: str, count: int) -> str:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return "".join(chr(ord("a") + b % 26) for b in digest[:count])


def platform_codes(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Each platform's code: the shortest start (2 letters or more) of its name's letters that no
    platform before it in ``names`` has taken. Registration order decides, so a platform registered
    later never changes the code of one registered before it."""
    codes: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        letters = _letters(name)
        if len(letters) < _CODE_MIN_CHARS:
            letters += _hash_letters(name, _CODE_MIN_CHARS - len(letters))
        candidates = [letters[:n] for n in range(_CODE_MIN_CHARS, len(letters) + 1)]
        candidates.append(letters + _hash_letters(name, 4))  # two names with the same letters ("tv1", "tv2")
        code = next(c for c in candidates if c not in taken)
        codes[name] = code
        taken.add(code)
    return codes


def check_prefix(prefix: str) -> str:
    """``prefix`` if it is 1 to 8 ASCII letters and digits ending in a letter, else an InputError naming the
    setting. A prefix ending in a digit would run into the job id ("rf2" + job 1 and "rf" + job 21 are both
    "rf21..."), so two farms sharing an affiliate account could take each other's sales."""
    if (not isinstance(prefix, str) or not _ALNUM.match(prefix) or len(prefix) > PREFIX_MAX_CHARS
            or not prefix[-1].isalpha()):
        raise InputError(f"Invalid sub-id prefix ({prefix!r}). Supported: 1 to {PREFIX_MAX_CHARS} ASCII letters "
                         "and digits ending in a letter ([affiliate] sub_id_prefix; Shopee refuses other characters "
                         "in sub-ids).")
    return prefix


def check_sub_id(sub_id: str) -> str:
    """``sub_id`` if it is 1 to 20 ASCII letters and digits, else an InputError."""
    if not isinstance(sub_id, str) or not _ALNUM.match(sub_id) or len(sub_id) > SUB_ID_MAX_CHARS:
        raise InputError(f"Invalid sub-id ({sub_id!r}). Supported: 1 to {SUB_ID_MAX_CHARS} ASCII letters and digits.")
    return sub_id


def sub_id_for(job_id: int, platform: str, *, prefix: str) -> str:
    """The sub-id of ``job_id``'s post on ``platform``: deterministic, unique per (job, platform) in
    a workspace, ASCII letters and digits, at most 20 characters.

    Raises:
        InputError: a job id that is not a positive whole number, an unregistered platform, a
            prefix that is not 1 to 8 letters and digits, or a job id too long to fit.

    Example::

        sub_id_for(42, "tiktok", prefix="rf")  # 'rf42ti'
    """
    if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id < 1:
        raise InputError(f"Invalid job id for a sub-id ({job_id!r}). Supported: a whole number, 1 or more.")
    names = platform_names(outbox=True)
    if platform not in names:
        raise InputError(f"Invalid platform ({platform!r}). Supported: {', '.join(names)}.")
    check_prefix(prefix)
    sub_id = f"{prefix}{job_id}{platform_codes(names)[platform]}"
    if len(sub_id) > SUB_ID_MAX_CHARS:
        raise InputError(f"job {job_id}: its sub-id {sub_id!r} would be {len(sub_id)} characters; at most "
                         f"{SUB_ID_MAX_CHARS} (use a shorter [affiliate] sub_id_prefix)")
    return sub_id
