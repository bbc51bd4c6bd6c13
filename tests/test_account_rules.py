"""The seed's account-safety rules kept by the publisher: warm-up, pauses, a share of original posts,
a planned account and auto posting hours."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

import catalogs
from farm.cli import main as farm_main
from farm.publish import (
    Planner,
    account_row,
    add_account,
    effective_daily_cap,
    list_account_rows,
    original_share_allows,
    pause_account,
    remove_account,
    resume_account,
    set_active,
)
from publishing import token_file, workspace

START = datetime(2026, 12, 1, 3, 0)  # naive UTC


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    return workspace(tmp_path / "ws")


@pytest.fixture
def tok(tmp_path):
    return token_file(tmp_path, "t", "token-value")


def _tiktok(ws, tok, name: str, **options) -> dict:
    options = {"daily_cap": 40, "min_gap_min": 0, **options}
    return add_account(ws, "tiktok", username=name, token_file=tok, **options)


def _job(con, *, kind: str = "mashup", mains: tuple[str, ...] = ("owned",), account_id: int | None = None,
         platform: str | None = "tiktok") -> int:
    """A ready job whose main clips carry ``mains`` licences (media rows only: no video)."""
    inputs = []
    for i, licence in enumerate(mains):
        media_id = catalogs.insert_media(con, {
            "kind": "source", "path": f"/m/{licence}-{i}.mp4", "sha256": f"{licence}-{i}-{catalogs.next_job_id(con)}",
            "size_bytes": 1, "duration_s": 4.0, "width": 540, "height": 960, "fps": 30.0, "has_audio": False,
            "license": licence})
        inputs.append((media_id, "main", i))
    job_id = catalogs.insert_job(con, kind=kind, spec={}, platform=platform, inputs=inputs)
    catalogs.move(con, job_id, "rendering")
    catalogs.move(con, job_id, "ready", sets={"output_path": f"/out/{job_id}.mp4"})
    if account_id is not None:
        con.execute("UPDATE jobs SET account_id = ? WHERE id = ?", [account_id, job_id])
    return job_id


def _posted(con, account: dict, job_id: int, at: datetime) -> None:
    catalogs.insert_upload(con, job_id=job_id, account_id=account["id"], platform=account["platform"],
                           marker=f"m{job_id}", size_bytes=1, privacy="public")
    catalogs.update_upload(con, job_id, account["platform"], state="published", started_at=at)


def _cli(capsys, ws, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = farm_main(["--workspace", str(ws.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


# -- warm-up ---------------------------------------------------------------------------------------
def test_the_warmup_cap_grows_from_one_to_the_configured_cap():
    acc = {"daily_cap": 15, "warmup_days": 14, "warmup_from": START}
    # min(15, 1 + floor(14 * d / 14)) = 1 + d, worked by hand
    assert [effective_daily_cap(acc, START + timedelta(days=d, hours=5)) for d in (0, 1, 7, 13, 14, 40)] == \
        [1, 2, 8, 14, 15, 15]
    assert effective_daily_cap({**acc, "daily_cap": 3}, START + timedelta(days=7)) == 2  # 1 + floor(2 * 7 / 14)
    assert effective_daily_cap(acc, START - timedelta(days=1)) == 1  # a clock behind the warm-up's start
    for unwarmed in ({"warmup_days": 0}, {"warmup_days": None}, {"warmup_from": None}):
        assert effective_daily_cap({**acc, **unwarmed}, START) == 15


def test_a_warming_account_posts_once_on_its_first_day_and_a_reconnect_keeps_its_warmup(ws, tok):
    acc = _tiktok(ws, tok, "new", daily_cap=5, warmup_days=14)
    assert acc["warmup_days"] == 14 and abs(acc["warmup_from"] - catalogs.utcnow()) < timedelta(minutes=1)
    with ws.catalog.read() as con:
        planner = Planner(con, ws.settings, now=acc["warmup_from"] + timedelta(minutes=1))
        first, second = planner.choose(1, "tiktok"), planner.choose(2, "tiktok")
    assert first.account["username"] == "new" and second.account is None
    assert "daily cap reached (1 of 1 today, warm-up day 1 of 14)" in second.reasons[0]
    with ws.catalog.read() as con:  # on day 7 (0-based) its cap is 1 + floor(4 * 7 / 14) = 3
        planner = Planner(con, ws.settings, now=acc["warmup_from"] + timedelta(days=7, minutes=1))
        assert [planner.choose(j, "tiktok").account is not None for j in range(1, 5)] == [True, True, True, False]

    again = _tiktok(ws, tok, "new", daily_cap=5, warmup_days=3)  # new tokens: the warm-up goes on
    assert again["reconnected"] and again["warmup_days"] == 14 and again["warmup_from"] == acc["warmup_from"]
    assert _tiktok(ws, tok, "old")["warmup_days"] == 0  # the library adds without warm-up unless asked


def test_the_cli_warms_new_accounts_up_by_default_and_lists_the_cap_today(ws, tok, capsys):
    assert _cli(capsys, ws, "accounts", "add", "tiktok", "--name", "fresh", "--token-file", str(tok),
                "--daily-cap", "6")[0] == 0
    assert _cli(capsys, ws, "accounts", "add", "tiktok", "--name", "seasoned", "--token-file", str(tok),
                "--daily-cap", "6", "--warmup-days", "0")[0] == 0
    assert _cli(capsys, ws, "accounts", "add", "local", "--name", "hand")[0] == 0  # a folder: nothing to warm
    code, out, _ = _cli(capsys, ws, "accounts", "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0
    assert (rows["fresh"]["daily_cap"], rows["fresh"]["cap_today"], rows["fresh"]["warmup"],
            rows["fresh"]["warmup_days"]) == (6, 1, "warm-up day 1 of 14", 14)  # [planner] warmup_days
    assert (rows["seasoned"]["cap_today"], rows["seasoned"]["warmup"]) == (6, None)
    assert rows["hand"]["warmup"] is None and rows["hand"]["warmup_days"] == 0
    code, out, _ = _cli(capsys, ws, "accounts", "list")
    assert "tiktok:fresh: warm-up day 1 of 14: 1 post(s) today of its cap of 6" in out
    code, _, err = _cli(capsys, ws, "accounts", "add", "tiktok", "--name", "bad", "--token-file", str(tok),
                        "--warmup-days", "-1")
    assert code == 2 and err.startswith("farm: error: Invalid --warmup-days (-1)") and err.count("\n") == 1


# -- pauses ----------------------------------------------------------------------------------------
def test_a_paused_account_is_skipped_and_resumes_by_itself(ws, tok):
    _tiktok(ws, tok, "shop")
    paused = pause_account(ws, "shop", days=3, reason="health under 50", now=START)
    assert paused["paused_until"] == START + timedelta(days=3)
    with ws.catalog.read() as con:
        during = Planner(con, ws.settings, now=START + timedelta(days=2, hours=23)).choose(1, "tiktok")
        after = Planner(con, ws.settings, now=START + timedelta(days=3, minutes=1)).choose(1, "tiktok")
    assert during.account is None
    assert during.reasons == ["tiktok:shop: paused until 2026-12-04 03:00 UTC (health under 50)"]
    assert after.account is not None  # no command needed: the time has passed
    [row] = list_account_rows(ws, now=START + timedelta(days=1))
    assert (row["state"], row["token"], row["paused_until"], row["pause_reason"]) == \
        ("paused", "active", START + timedelta(days=3), "health under 50")
    [row] = list_account_rows(ws, now=START + timedelta(days=4))
    assert row["state"] == "connected" and row["paused_until"] is None
    assert resume_account(ws, "tiktok:shop", now=START + timedelta(days=1))["was_paused"] is True
    [row] = list_account_rows(ws, now=START + timedelta(days=1))
    assert row["state"] == "connected"


def test_pause_and_resume_on_the_command_line(ws, tok, capsys):
    _tiktok(ws, tok, "shop")
    code, out, _ = _cli(capsys, ws, "accounts", "pause", "shop", "--days", "30", "--reason", "policy rejection")
    assert code == 0 and out.startswith("paused tiktok:shop (id 1) until ") and "(policy rejection)" in out
    code, out, _ = _cli(capsys, ws, "accounts", "list", "--json")
    [row] = json.loads(out)
    assert row["state"] == "paused" and row["pause_reason"] == "policy rejection"
    until = datetime.fromisoformat(row["paused_until"])
    assert timedelta(days=29, hours=23) < until - catalogs.utcnow() <= timedelta(days=30)
    code, out, _ = _cli(capsys, ws, "accounts", "list")
    assert "paused" in out and "tiktok:shop: paused until" in out and "resumes by itself" in out
    code, out, _ = _cli(capsys, ws, "accounts", "resume", "tiktok:shop", "--json")
    assert code == 0 and json.loads(out) == {"id": 1, "platform": "tiktok", "name": "shop", "action": "resumed",
                                             "was_paused": True, "state": "connected"}
    code, out, _ = _cli(capsys, ws, "accounts", "resume", "shop")
    assert code == 0 and "was not paused" in out
    code, _, err = _cli(capsys, ws, "accounts", "pause", "shop", "--days", "0")
    assert code == 2 and "Invalid pause (0 days)" in err and err.count("\n") == 1
    code, _, err = _cli(capsys, ws, "accounts", "pause", "shop", "--days", "10000000")
    assert code == 2 and "at most 3660 days" in err and err.count("\n") == 1
    code, _, err = _cli(capsys, ws, "accounts", "pause", "nobody", "--days", "2", "--json")
    assert code == 2 and "no such account" in err


# -- the share of original posts -------------------------------------------------------------------
def test_original_share_arithmetic():
    # after one more post that is not original: 7 of 10 is 0.70 (allowed), 7 of 11 is 0.636 (not)
    assert original_share_allows(7, 9, share=0.7) and not original_share_allows(7, 10, share=0.7)
    assert not original_share_allows(0, 0, share=0.7) and original_share_allows(0, 0, share=0.0)


def test_which_jobs_are_originals(ws):
    with ws.catalog.write() as con:
        owned = _job(con, mains=("owned",))
        two_owned = _job(con, mains=("owned", "owned"))
        licensed = _job(con, mains=("licensed",))
        mixed = _job(con, mains=("owned", "cc-by"))
        promo = _job(con, kind="promo", mains=("licensed",))
        assert [catalogs.job_is_original(con, j) for j in (owned, two_owned, licensed, mixed, promo)] == \
            [True, True, False, False, True]
        assert catalogs.job_plan_facts(con)[licensed] == (False, None)


def test_a_licensed_mashup_goes_only_where_originals_keep_their_share(ws, tok):
    now = catalogs.utcnow()
    at_limit, roomy = _tiktok(ws, tok, "at_limit"), _tiktok(ws, tok, "roomy")
    with ws.catalog.write() as con:
        # at_limit: 7 originals of 10 posts; roomy: 7 of 9, and 5 licensed ones older than 30 days
        for acc, originals, others in ((at_limit, 7, 3), (roomy, 7, 2)):
            for i in range(originals + others):
                job = _job(con, mains=("owned",) if i < originals else ("licensed",))
                _posted(con, acc, job, now - timedelta(days=1 + i))
        for i in range(5):
            _posted(con, roomy, _job(con, mains=("licensed",)), now - timedelta(days=31 + i))
        con.execute("UPDATE jobs SET state = 'published'")
        assert catalogs.account_post_mix(con, at_limit["id"], now - timedelta(days=30)) == (7, 10)
        reused = [_job(con, mains=("licensed",)) for _ in range(2)]
        promo = _job(con, kind="promo", mains=("licensed",))
        owned = _job(con, mains=("owned",))
    with ws.catalog.read() as con:
        planner = Planner(con, ws.settings, now=now)
        first = planner.choose(reused[0], "tiktok")
        second = planner.choose(reused[1], "tiktok")  # roomy is now 7 of 10 with this pass's pick
        originals = [planner.choose(j, "tiktok") for j in (promo, owned)]
    assert first.account["username"] == "roomy"
    assert "tiktok:at_limit: original share 0.64 would fall under 0.70" in " ".join(first.reasons)
    assert second.account is None and "tiktok:roomy: original share 0.64 would fall under 0.70" in " ".join(
        second.reasons)
    assert all(t.account is not None for t in originals)  # promos and owned footage always count as originals


# -- the planned account ---------------------------------------------------------------------------
def test_a_planned_account_is_honoured_waited_for_and_released_when_disabled(ws, tok):
    a, b = _tiktok(ws, tok, "a"), _tiktok(ws, tok, "b")
    with ws.catalog.write() as con:
        job = _job(con, account_id=b["id"])
        free = _job(con)
    with ws.catalog.read() as con:
        planner = Planner(con, ws.settings, now=START)
        planned, other = planner.choose(job, "tiktok"), planner.choose(free, "tiktok")
    assert planned.account["id"] == b["id"] and planned.reasons == ["tiktok:b: chosen (its planned account)"]
    assert other.account["id"] == a["id"]  # a was first in turn for any job; the planned one went to b

    pause_account(ws, "b", days=2, now=START)
    with ws.catalog.read() as con:
        waiting = Planner(con, ws.settings, now=START + timedelta(hours=1)).choose(job, "tiktok")
    assert waiting.account is None and waiting.wait.startswith("waits for its planned account tiktok:b (paused until")

    set_active(ws, "b", False)
    with ws.catalog.read() as con:
        released = Planner(con, ws.settings, now=START + timedelta(hours=1)).choose(job, "tiktok")
    assert released.account["id"] == a["id"]
    assert "tiktok:b: its planned account is disabled: any tiktok account may take it" in released.reasons

    remove_account(ws, "b")
    with ws.catalog.read() as con:
        gone = Planner(con, ws.settings, now=START + timedelta(hours=1)).choose(job, "tiktok")
    assert gone.account["id"] == a["id"] and any("was removed" in r for r in gone.reasons)


# -- auto posting hours ----------------------------------------------------------------------------
def test_an_auto_window_has_no_fixed_hours_and_jobs_wait_for_their_publish_after(ws, tok, capsys):
    assert account_row("tiktok", username="x", window="auto")["window_auto"] is True
    assert account_row("tiktok", username="x", window="auto")["window_start"] is None
    assert _cli(capsys, ws, "accounts", "add", "tiktok", "--name", "auto", "--token-file", str(tok), "--window",
                "auto", "--warmup-days", "0", "--min-gap-minutes", "60")[0] == 0
    _tiktok(ws, tok, "fixed", window="00:00-00:01")
    code, out, _ = _cli(capsys, ws, "accounts", "list", "--json")
    assert {r["name"]: r["window"] for r in json.loads(out)} == {"auto": "auto", "fixed": "00:00-00:01"}
    assert "auto" in _cli(capsys, ws, "accounts", "list")[1]

    noon = datetime(2026, 12, 1, 12, 0)
    with ws.catalog.read() as con:
        planner = Planner(con, ws.settings, now=noon)
        first, second = planner.choose(1, "tiktok"), planner.choose(2, "tiktok")
    assert first.account["username"] == "auto"
    assert any("fixed: outside its posting window" in r for r in first.reasons)
    assert second.account is None and any("auto: minimum gap of 60 min" in r for r in second.reasons)

    with ws.catalog.write() as con:  # the nightly planner's hour, on the job: due only once it has come
        job = _job(con)
        con.execute("UPDATE jobs SET publish_after = ? WHERE id = ?", [noon + timedelta(hours=3), job])
        assert job not in catalogs.due_job_ids(con, noon)
        assert job in catalogs.due_job_ids(con, noon + timedelta(hours=3))

    _tiktok(ws, tok, "auto", window="08:00-20:00")  # a fixed window again ends the auto one
    assert next(r for r in list_account_rows(ws) if r["name"] == "auto")["window"] == "08:00-20:00"
