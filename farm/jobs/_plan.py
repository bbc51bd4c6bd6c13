"""Planning jobs: one ranker for choosing media, one rights check, and enqueueing mashups.

``farm queue add`` (one job, some media named) and ``farm nightly`` (a batch) choose
media the same way: the catalog's order (least used, then least recently used, ties by
seed), re-ranked by what the batch has already picked, and only media whose licence
allows publishing when a job is meant for a platform.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import catalogs
from farm.errors import InputError, RightsError
from farm.jobs._spec import MashupSpec, check_platform
from farm.workspace import Workspace


def check_rights(rows: Iterable[dict], platform: str | None, *, message: str | None = None) -> None:
    """The one rights check: media whose licence is ``unknown`` cannot be published.

    Raises :class:`RightsError` naming the media (or saying ``message``) when ``platform``
    is set and any row's licence is unknown; a job without a platform (a local render) may
    use anything.
    """
    if platform is None:
        return
    unknown = [r for r in rows if r["license"] == "unknown"]
    if unknown:
        ids = ", ".join(str(r["id"]) for r in unknown)
        raise RightsError(message or (
            f"media {ids}: licence unknown, cannot be published on {platform} "
            "(set it with `farm media update ID --license ...`, or render without --platform)"
        ))


class Ranker:
    """Orders candidate media for a batch: the catalog's order (least used, least recently
    used, seeded tie-break), with this batch's own picks counted as uses."""

    def __init__(self) -> None:
        self.used: Counter[int] = Counter()

    def rank(self, rows: list[dict], *, platform: str | None = None) -> list[dict]:
        fits = [r for r in rows if platform is None or r["platform"] in (None, platform)]
        # a stable sort: rows the batch has not touched keep the catalog's (seeded) order
        return sorted(fits, key=lambda r: (r["usage_count"] + self.used[r["id"]], r["last_used_at"] or datetime.min))

    def take(self, *rows: dict | None) -> None:
        for r in rows:
            if r is not None:
                self.used[r["id"]] += 1


def credits_line(rows: list[dict]) -> str | None:
    """The attribution burned into a video: each input's credit, CC BY ones always."""
    parts: list[str] = []
    for r in rows:
        text = r.get("attribution")
        if not text and r.get("license") == "cc-by":
            text = f"{r.get('creator') or 'unknown creator'} (CC BY)"
        if text and text not in parts:
            parts.append(text)
    return ("Credits: " + " · ".join(parts)) if parts else None


def _need(con, media_id: int, kinds: tuple[str, ...], role: str) -> dict:
    row = catalogs.get_media(con, media_id)
    if row is None:
        raise InputError(f"media {media_id}: no such media (given as {role})")
    if row["kind"] not in kinds:
        raise InputError(f"media {media_id}: is {row['kind']}, cannot be the {role} (needs {' or '.join(kinds)})")
    return row


def build_mashup(
    ws: Workspace,
    con,
    *,
    mains: list[int],
    template: int | None = None,
    music: int | None = None,
    mood: str | None = None,
    platform: str | None = None,
    caption: str | None = None,
    seed: int = 0,
    batch_id: str | None = None,
) -> int:
    """Insert one pending mashup job inside the caller's transaction; returns its id.

    A template or a music track not named is picked by the ranker (least used first,
    reproducible by ``seed``). A job for a platform is meant for publishing: media whose
    licence is ``unknown`` are refused with :class:`RightsError`.
    """
    if not mains:
        raise InputError("a mashup needs at least one --main")
    check_platform(platform)
    publishing = platform is not None
    main_rows = [_need(con, m, ("source", "template"), "main") for m in mains]
    # one job: nothing picked yet in its batch, so the ranker's order is the catalog's
    if template is None:
        picked = catalogs.pick_media(con, kind="template", platform=platform, for_publishing=publishing, seed=seed)
        if not picked:
            raise InputError("no template in the library fits this job (import one with --kind template)")
        template_row = picked[0]
    else:
        template_row = _need(con, template, ("template",), "template")
    music_row = None
    if music is not None:
        music_row = _need(con, music, ("audio",), "music")
    elif mood is not None:
        picked = catalogs.pick_media(con, kind="audio", platform=platform, mood=mood, for_publishing=publishing, seed=seed)
        if not picked:
            raise InputError(f"no music with mood {mood!r} in the library" + (" whose licence allows publishing" if publishing else ""))
        music_row = picked[0]
    used = [*main_rows, template_row] + ([music_row] if music_row else [])
    check_rights(used, platform)
    job_id = catalogs.next_job_id(con)
    r = ws.settings.render
    total_s = sum(float(m["duration_s"] or 0) for m in main_rows)
    spec = MashupSpec(
        mains=tuple(m["path"] for m in main_rows),
        template=template_row["path"],
        output=str(ws.out_dir / f"job-{job_id:06d}.mp4"),
        layout=r.layout,
        fit=r.fit,
        duration_s=r.max_duration_s if total_s > r.max_duration_s else None,
        fade_s=r.fade_s,
        music=music_row["path"] if music_row else None,
        music_volume=r.music_volume,
        caption=caption,
        attribution=credits_line(used),
        fps=r.fps,
        preset=r.preset,
        crf=r.crf,
        encoder=r.encoder,
        decoder=r.decoder,
    )
    inputs = [(m["id"], "main", i) for i, m in enumerate(main_rows)] + [(template_row["id"], "template", 0)]
    if music_row:
        inputs.append((music_row["id"], "music", 0))
    catalogs.insert_job(
        con, kind="mashup", spec=json.loads(spec.to_json()), platform=platform, inputs=inputs, job_id=job_id, batch_id=batch_id
    )
    catalogs.log_stage(con, job_id, "plan", detail=f"mains {[m['id'] for m in main_rows]} template {template_row['id']}"
                       + (f" music {music_row['id']}" if music_row else ""))
    return job_id


def enqueue_mashup(ws: Workspace, **kwargs) -> dict:
    """Add one mashup job (see :func:`build_mashup`) with its post text; returns its row."""
    from farm.jobs._posts import write_post_text

    with ws.catalog.write() as con:
        job_id = build_mashup(ws, con, **kwargs)
    write_post_text(ws, [job_id])
    with ws.catalog.read() as con:
        return catalogs.get_job(con, job_id)


def plan_batch(
    ws: Workspace,
    con,
    *,
    count: int,
    platforms: list[str] | None = None,
    mood: str | None = None,
    seed: int = 0,
    window: int | None = None,
    now: datetime | None = None,
) -> tuple[list[dict], list[str]]:
    """Choose ``count`` (main, template, music, platform) combinations; returns (plans, notes).

    Least used (then least recently used) media first, counting this batch's own picks;
    no main/template pair that appeared in the last ``window`` jobs or earlier in this
    batch; music of ``mood``; only media whose licence allows publishing. The same seed
    over the same catalog gives the same plan.
    """
    if count < 0:
        raise InputError(f"--count must be 0 or more, not {count}")
    for p in platforms or []:
        check_platform(p)
    window = ws.settings.nightly.pair_window if window is None else window
    mood_given = mood
    mood = mood or ws.settings.nightly.mood

    def load(kind: str) -> list[dict]:
        return catalogs.pick_media(con, kind=kind, for_publishing=True, seed=seed, count=None)

    sources, templates, music = load("source"), load("template"), load("audio")
    if not sources:
        raise InputError("no source clips whose licence allows publishing (import with --kind source --license ...)")
    if not templates:
        raise InputError("no templates whose licence allows publishing (import with --kind template --license ...)")
    from farm.jobs._learned import AccountPlan  # the learner's side loads only for a plan

    recent = catalogs.recent_pairs(con, window=window)
    ranker = Ranker()
    learning = AccountPlan(ws, con, now=now or catalogs.utcnow(), seed=seed, platforms=platforms) if count else None
    slots = learning.slots(count) if learning is not None else []
    notes: list[str] = list(learning.notes) if learning is not None else []
    plans: list[dict] = []
    mood_missing_noted = False
    for i in range(count):
        account = slots[i] if i < len(slots) else None
        platform = account["platform"] if account else (platforms[i % len(platforms)] if platforms else None)
        arm: dict = {}
        mains = sources
        if account is not None and not learning.may_use_licensed(account):
            mains = [m for m in sources if m["license"] == "owned"]
        tpls = ranker.rank(templates, platform=platform)
        if account is not None:
            arm["template"] = learning.choose(account, "template", [str(t["id"]) for t in tpls])
            tpls = sorted(tpls, key=lambda t: str(t["id"]) != arm["template"]["arm"])  # stable: the pick first
        choice = _pair(ranker.rank(mains, platform=platform), tpls, recent)
        if choice is None:
            notes.append(f"planned {len(plans)} of {count} jobs: every main/template pair was used within the "
                         f"last {window} jobs (import more media or lower nightly.pair_window)"
                         if account is None or len(mains) == len(sources) else
                         f"planned {len(plans)} of {count} jobs: {account['platform']}:{account['username']} needs "
                         "an original (a source of your own footage, licence owned) to keep its share of originals")
            break
        main, tpl = choice
        wanted = mood
        if account is not None and mood_given is None:
            fit = [m for m in music if m["platform"] in (None, platform)]
            arm["mood"] = learning.choose(account, "mood", sorted({m["mood"] for m in fit if m["mood"]}))
            wanted = arm["mood"]["arm"] if arm["mood"] else mood
        tracks = ranker.rank([m for m in music if m["mood"] == wanted], platform=platform)
        if not tracks and music:
            if not mood_missing_noted:
                notes.append(f"no publishable music with mood {wanted!r}; using other moods")
                mood_missing_noted = True
            tracks = ranker.rank(music, platform=platform)
        track = tracks[0] if tracks else None
        plan = {
            "platform": platform, "main": main["id"], "main_path": main["path"], "template": tpl["id"],
            "template_path": tpl["path"], "music": track["id"] if track else None,
            "music_path": track["path"] if track else None, "mood": track["mood"] if track else None,
        }
        plans.append(plan | (_account_fields(learning, account, arm, tpl, main) if account is not None else
                             {"account_id": None, "account": None, "publish_after": None, "plan_arm": None}))
        ranker.take(main, tpl, track)
        recent.add((main["id"], tpl["id"]))
    if not music:
        notes.append("no publishable music in the library: videos carry only their clips' sound")
    return plans, notes


def _pair(mains: list[dict], tpls: list[dict], recent: set) -> tuple[dict, dict] | None:
    """The first (main, template) in rank order whose pair was not used recently."""
    for main in mains:
        for tpl in tpls:
            if (main["id"], tpl["id"]) not in recent:
                return main, tpl
    return None


def _account_fields(learning, account: dict, arm: dict, tpl: dict, main: dict) -> dict:
    """The planned account, publish time and the planner's record of why, for one mashup."""
    if arm.get("template") and arm["template"]["arm"] != str(tpl["id"]):
        arm["template"]["reason"] += f"; its pairs were used recently, so template {tpl['id']}"
        arm["template"]["arm"] = str(tpl["id"])
    original = main["license"] == "owned"
    learning.took(account, original=original)
    publish_after, arm["hour"] = learning.publish_time(account)
    record = {"account": f"{account['platform']}:{account['username']}", "original": original,
              "learned": learning.fitted.learning(account["id"]),
              "reward": learning.fitted.reward, **{k: v for k, v in arm.items() if v is not None}}
    return {"account_id": account["id"], "account": record["account"], "publish_after": publish_after,
            "plan_arm": record}


def enqueue_plans(ws: Workspace, plans: list[dict], *, batch_id: str, caption: str | None = None, seed: int = 0) -> list[int]:
    """Write the planned jobs in one transaction, then their post text; returns their ids."""
    from farm.jobs._posts import write_post_text

    with ws.catalog.write() as con:
        ids = []
        for p in plans:
            ids.append(build_mashup(ws, con, mains=[p["main"]], template=p["template"], music=p["music"],
                                    platform=p["platform"], caption=caption, seed=seed, batch_id=batch_id))
            if p.get("plan_arm") is not None:
                catalogs.set_job_plan(con, ids[-1], account_id=p["account_id"], publish_after=p["publish_after"],
                                      plan_arm=p["plan_arm"])
    write_post_text(ws, ids)
    return ids
