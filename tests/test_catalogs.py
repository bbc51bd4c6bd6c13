"""Workspace, schema migrations, media library, job queue, process log and `farm sql`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

import catalogs
from conftest import run_farm
from farm.errors import BusyError, InputError, RightsError
from farm.library import ImportOptions, cleanup_media, import_media, remove_media
from farm.batch import render_queue
from farm.jobs import enqueue_mashup
from farm.workspace import Settings, Workspace, find_workspace, init_workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return init_workspace(tmp_path / "ws")[0]


def _import(ws, path, **kw) -> dict:
    report = import_media(ws, [str(path)], ImportOptions(**kw))
    assert report.ok, report.failed
    return (report.added or report.duplicates)[0]


@pytest.fixture
def stocked(ws, library_media) -> tuple[Workspace, dict]:
    ids = {
        "src1": _import(ws, library_media["src1"], kind="source", license="owned")["id"],
        "src2": _import(ws, library_media["src2"], kind="source", license="owned")["id"],
        "tpl": _import(ws, library_media["tpl"], kind="template", license="cc-by", creator="@alice")["id"],
        "music": _import(ws, library_media["music"], mood="calm", license="cc0")["id"],
    }
    return ws, ids


# -- workspace ------------------------------------------------------------------------
def test_init_creates_workspace_and_is_idempotent(tmp_path):
    root = tmp_path / "w"
    r = run_farm("init", str(root), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["created"] is True and doc["schema_version"] == catalogs.SCHEMA_VERSION
    for sub in ("templates", "sources", "products", "out", "audio/upbeat", "audio/calm", "audio/trending", "audio/commercial"):
        assert (root / sub).is_dir(), sub
    text = (root / "farm.toml").read_text()
    assert "[render]" in text and "# crf = 23" in text
    assert Settings.load(root / "farm.toml") == Settings()  # all commented: the defaults
    again = json.loads(run_farm("init", str(root), "--json").stdout)
    assert again["created"] is False


def test_workspace_found_by_option_env_and_cwd(tmp_path):
    ws, _ = init_workspace(tmp_path / "w")
    deep = ws.root / "out" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_workspace(start=deep).root == ws.root
    assert find_workspace(str(ws.root)).root == ws.root
    assert run_farm("media", "list", cwd=deep).returncode == 0
    assert run_farm("media", "list", env={"FARM_HOME": str(ws.root)}, cwd=tmp_path).returncode == 0
    assert run_farm("--workspace", str(ws.root), "media", "list", cwd=tmp_path).returncode == 0
    assert run_farm("media", "list", "--workspace", str(ws.root), cwd=tmp_path).returncode == 0
    r = run_farm("media", "list", cwd=tmp_path, env={"FARM_HOME": ""})
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "not inside a farm workspace" in r.stderr


def test_bad_settings_name_the_file_and_key(tmp_path):
    ws, _ = init_workspace(tmp_path / "w")
    (ws.root / "farm.toml").write_text("[render]\ncrf = 'high'\n")
    with pytest.raises(InputError, match=r"farm.toml: render.crf must be int"):
        Settings.load(ws.root / "farm.toml")
    (ws.root / "farm.toml").write_text("[render]\nspeed = 3\n")
    r = run_farm("media", "list", "--workspace", str(ws.root))
    assert r.returncode == 2 and "unknown key render.speed" in r.stderr and "Traceback" not in r.stderr


def test_old_workspace_is_migrated_with_its_rows(tmp_path):
    db = tmp_path / "old" / "farm.duckdb"
    db.parent.mkdir()
    duckdb.connect(str(db)).close()
    cat = catalogs.Catalog(db)
    assert cat.migrate(up_to=1) == 1  # what release 1 made
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO media (kind, path, sha256, license, created_at) VALUES ('source', '/x.mp4', 'abc', 'owned', now())")
    con.execute("INSERT INTO jobs (kind, spec, state, created_at) VALUES ('mashup', '{}', 'failed', now())")
    con.close()
    ws = Workspace(db.parent)
    with ws.catalog.read() as con:  # opening migrates
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == catalogs.SCHEMA_VERSION
        assert con.execute("SELECT path FROM media").fetchall() == [("/x.mp4",)]
        assert con.execute("SELECT state, frames FROM jobs").fetchall() == [("failed", None)]
        assert con.execute("SELECT count(*) FROM job_media").fetchone()[0] == 0


def test_newer_workspace_is_refused(tmp_path):
    ws, _ = init_workspace(tmp_path / "w")
    con = duckdb.connect(str(ws.catalog.path))
    con.execute("INSERT INTO schema_version VALUES (99, 'future', now())")
    con.close()
    r = run_farm("queue", "list", "--workspace", str(ws.root))
    assert r.returncode == 2 and "newer farm" in r.stderr


# -- media library --------------------------------------------------------------------
def test_import_probes_copies_and_dedups(ws, library_media):
    row = _import(ws, library_media["src1"], kind="source", license="owned", creator="@bob")
    assert Path(row["path"]).parent == ws.root / "sources" and Path(row["path"]).exists()
    assert row["duration_s"] == pytest.approx(1.0, abs=0.05) and (row["width"], row["height"]) == (320, 180)
    assert row["fps"] == pytest.approx(30.0, rel=0.01) and row["has_audio"] is False
    dup = import_media(ws, [str(library_media["src1"])], ImportOptions(kind="template"))
    assert not dup.added and dup.duplicates[0]["id"] == row["id"]
    audio = _import(ws, library_media["music"], mood="upbeat")  # kind from content
    assert audio["kind"] == "audio" and audio["mood"] == "upbeat" and audio["license"] == "unknown"
    assert Path(audio["path"]).parent == ws.root / "audio" / "upbeat"
    image = _import(ws, library_media["image"])
    assert image["kind"] == "image" and (image["width"], image["height"]) == (64, 48) and image["duration_s"] is None
    linked = _import(ws, library_media["src2"], kind="source", link=True)
    assert linked["path"] == str(library_media["src2"].resolve()) and linked["linked"] is True


def test_folder_import_skips_bad_file_and_exit_code_says_so(ws, library_media, tmp_path):
    folder = tmp_path / "drop" / "sub"
    folder.mkdir(parents=True)
    for key in ("src1", "src2", "junk"):
        shutil.copy(library_media[key], folder / library_media[key].name)
    r = run_farm("media", "import", str(tmp_path / "drop"), "--kind", "source", "--json", "--workspace", str(ws.root))
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert len(doc["added"]) == 2 and len(doc["failed"]) == 1
    assert "junk.mp4" in doc["failed"][0]["item"]
    errors = [line for line in r.stderr.splitlines() if line.startswith("farm: error:")]
    assert len(errors) == 1 and "junk.mp4" in errors[0] and "Traceback" not in r.stderr
    with ws.catalog.read() as con:
        assert len(catalogs.list_media(con)) == 2
    assert sorted(p.name for p in (ws.root / "sources").iterdir()) == ["src1.mp4", "src2.mp4"]


def test_audio_dropped_into_mood_folder_gets_that_mood(ws, library_media):
    dest = ws.root / "audio" / "trending" / "beat.m4a"
    shutil.copy(library_media["music"], dest)
    r = run_farm("media", "import", str(ws.root / "audio"), "--json", "--workspace", str(ws.root))
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["added"][0]
    assert row["kind"] == "audio" and row["mood"] == "trending" and row["path"] == str(dest)


def test_video_needs_kind_and_kind_must_fit(ws, library_media):
    rep = import_media(ws, [str(library_media["src1"])], ImportOptions())
    assert "--kind" in rep.failed[0][1]
    rep = import_media(ws, [str(library_media["music"])], ImportOptions(kind="template"))
    assert "no video stream" in rep.failed[0][1]
    rep = import_media(ws, [str(library_media["image"])], ImportOptions(kind="source"))
    assert "still image" in rep.failed[0][1]


def test_media_list_show_json_keys(stocked):
    ws, ids = stocked
    r = run_farm("media", "list", "--json", "--workspace", str(ws.root))
    rows = json.loads(r.stdout)
    assert len(rows) == 4
    for key in ("id", "kind", "path", "sha256", "duration_s", "license", "mood"):
        assert key in rows[0]
    calm = json.loads(run_farm("media", "list", "--mood", "calm", "--json", "--workspace", str(ws.root)).stdout)
    assert [m["id"] for m in calm] == [ids["music"]]
    tpl = json.loads(run_farm("media", "list", "--kind", "template", "--json", "--workspace", str(ws.root)).stdout)
    assert [m["creator"] for m in tpl] == ["@alice"]
    shown = json.loads(run_farm("media", "show", str(ids["tpl"]), "--json", "--workspace", str(ws.root)).stdout)
    assert shown["id"] == ids["tpl"] and shown["jobs"] == []
    r = run_farm("media", "show", "999", "--workspace", str(ws.root))
    assert r.returncode == 2 and "media 999: no such media" in r.stderr


def test_remove_refused_while_a_pending_job_needs_it(stocked):
    ws, ids = stocked
    job = enqueue_mashup(ws, mains=[ids["src1"]], template=ids["tpl"])
    with pytest.raises(InputError, match="still needed by 1 pending"):
        remove_media(ws, ids["tpl"])
    row = remove_media(ws, ids["src2"])
    assert not Path(row["path"]).exists()
    with ws.catalog.write() as con:
        catalogs.move(con, job["id"], "cancelled")
    remove_media(ws, ids["tpl"])
    with ws.catalog.read() as con:
        assert {m["id"] for m in catalogs.list_media(con)} == {ids["src1"], ids["music"]}


def test_cleanup_deletes_old_processed_sources_only(stocked, library_media):
    ws, ids = stocked
    fresh = _import(ws, library_media["image"])  # another kind, untouched
    pending = enqueue_mashup(ws, mains=[ids["src2"]], template=ids["tpl"])
    with ws.catalog.write() as con:
        con.execute("UPDATE media SET created_at = created_at - INTERVAL 40 DAY, usage_count = 1")
    assert [r["id"] for r in cleanup_media(ws, older_than_days=30, dry_run=True)] == [ids["src1"]]
    src1_path = Path(cleanup_media(ws, older_than_days=30)[0]["path"])
    assert not src1_path.exists()
    with ws.catalog.read() as con:
        left = {m["id"] for m in catalogs.list_media(con)}
    assert ids["src1"] not in left and ids["src2"] in left and fresh["id"] in left  # src2: a pending job needs it
    assert cleanup_media(ws, older_than_days=60) == []
    assert pending["state"] == "pending"


def test_pick_prefers_least_used_skips_unknown_licence_and_is_seeded(ws, library_media, tmp_path):
    made = []
    for i in range(4):
        p = tmp_path / f"t{i}.mp4"
        from conftest import GREY, flat_clip

        flat_clip(p, (GREY[0] + 10 * i, 128, 128), seconds=0.2, width=64, height=64)
        made.append(_import(ws, p, kind="template", license="unknown" if i == 0 else "owned")["id"])
    with ws.catalog.write() as con:
        con.execute("UPDATE media SET usage_count = 5 WHERE id = ?", [made[1]])
        con.execute("UPDATE media SET usage_count = 1, last_used_at = TIMESTAMP '2026-01-02' WHERE id = ?", [made[2]])
        con.execute("UPDATE media SET usage_count = 1, last_used_at = TIMESTAMP '2026-01-01' WHERE id = ?", [made[3]])
    with ws.catalog.read() as con:
        pub = [r["id"] for r in catalogs.pick_media(con, kind="template", for_publishing=True, count=3)]
        assert pub == [made[3], made[2], made[1]]  # least used, then least recently used; unknown licence out
        assert catalogs.pick_media(con, kind="template", count=1)[0]["id"] == made[0]  # a local render may use it
        a = [catalogs.pick_media(con, kind="template", seed=s, count=4) for s in (1, 2)]
        b = [catalogs.pick_media(con, kind="template", seed=s, count=4) for s in (1, 2)]
        assert a == b


# -- job queue ------------------------------------------------------------------------
def test_queue_add_picks_music_by_mood_and_credits_cc_by(stocked):
    ws, ids = stocked
    r = run_farm("queue", "add", "mashup", "--main", str(ids["src1"]), "--main", str(ids["src2"]), "--mood", "calm",
                 "--platform", "tiktok", "--caption", "Hi", "--json", "--workspace", str(ws.root))
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    for key in ("id", "kind", "state", "attempts", "error_message", "output_path"):
        assert key in job
    assert job["state"] == "pending" and job["platform"] == "tiktok"
    spec = job["spec"]
    assert spec["music"].endswith("music.m4a") and spec["template"].endswith("tpl.mp4")
    assert spec["attribution"] == "Credits: @alice (CC BY)" and spec["caption"] == "Hi"
    with ws.catalog.read() as con:
        roles = {(r["role"], r["media_id"]) for r in catalogs.job_inputs(con, job["id"])}
    assert roles == {("main", ids["src1"]), ("main", ids["src2"]), ("template", ids["tpl"]), ("music", ids["music"])}


def test_publishing_job_refuses_unknown_licence(stocked, library_media, tmp_path):
    ws, ids = stocked
    from conftest import flat_clip

    unknown = _import(ws, flat_clip(tmp_path / "u.mp4", (90, 100, 110), seconds=0.3), kind="source")["id"]
    with pytest.raises(RightsError, match="licence unknown"):
        enqueue_mashup(ws, mains=[unknown], template=ids["tpl"], platform="youtube")
    enqueue_mashup(ws, mains=[unknown], template=ids["tpl"])  # a local render is fine
    r = run_farm("queue", "add", "mashup", "--main", str(unknown), "--platform", "facebook", "--workspace", str(ws.root))
    assert r.returncode == 2 and "licence unknown" in r.stderr and r.stderr.count("\n") == 1
    r = run_farm("queue", "add", "mashup", "--main", str(ids["music"]), "--workspace", str(ws.root))
    assert r.returncode == 2 and "cannot be the main" in r.stderr


def test_illegal_moves_are_refused(stocked):
    ws, ids = stocked
    job = enqueue_mashup(ws, mains=[ids["src1"]], template=ids["tpl"])
    with ws.catalog.write() as con:
        with pytest.raises(catalogs.IllegalTransition, match="is pending; it cannot move to ready"):
            catalogs.move(con, job["id"], "ready")
    r = run_farm("queue", "retry", str(job["id"]), "--workspace", str(ws.root))
    assert r.returncode == 2 and "is pending" in r.stderr
    assert run_farm("queue", "cancel", str(job["id"]), "--workspace", str(ws.root)).returncode == 0
    r = run_farm("queue", "cancel", str(job["id"]), "--workspace", str(ws.root))
    assert r.returncode == 2 and "is cancelled" in r.stderr
    assert run_farm("queue", "retry", str(job["id"]), "--workspace", str(ws.root)).returncode == 0
    with ws.catalog.read() as con:
        assert catalogs.get_job(con, job["id"])["state"] == "pending"


def test_render_records_results_usage_log_and_metrics(stocked, library_media):
    ws, ids = stocked
    good = enqueue_mashup(ws, mains=[ids["src1"]], template=ids["tpl"], music=ids["music"], caption="One")
    # a job whose main goes bad after it was queued: fails once with its reason, the rest go on
    bad_src = _import(ws, library_media["src2"], kind="source", license="owned")
    bad = enqueue_mashup(ws, mains=[bad_src["id"]], template=ids["tpl"])
    Path(bad_src["path"]).write_bytes(b"garbage" * 100)
    good2 = enqueue_mashup(ws, mains=[ids["src1"]], template=ids["tpl"])
    r = run_farm("queue", "render", "--json", "--workspace", str(ws.root))
    assert r.returncode == 1  # something failed
    summary = json.loads(r.stdout)
    assert summary["rendered"] == [good["id"], good2["id"]]
    assert [f["id"] for f in summary["failed"]] == [bad["id"]]
    jobs = {j["id"]: j for j in json.loads(run_farm("queue", "list", "--json", "--workspace", str(ws.root)).stdout)}
    g = jobs[good["id"]]
    assert g["state"] == "ready" and g["attempts"] == 1 and Path(g["output_path"]).stat().st_size == g["output_size_bytes"]
    assert g["frames"] == 30 and g["error_message"] is None
    b = jobs[bad["id"]]
    assert b["state"] == "failed" and b["attempts"] == 1 and b["error_class"] == "InputError"
    assert "src2.mp4" in b["error_message"] and b["output_path"] is None
    with ws.catalog.read() as con:
        tpl = catalogs.get_media(con, ids["tpl"])
        assert tpl["usage_count"] == 2 and tpl["last_used_at"] is not None
        assert catalogs.get_media(con, ids["src2"])["usage_count"] == 0
    log = json.loads(run_farm("logs", str(good["id"]), "--json", "--workspace", str(ws.root)).stdout)
    stages = [row["stage"] for row in log["log"]]
    for stage in ("plan", "claim", "probe", "decode", "compose", "encode", "mux", "render"):
        assert stage in stages
    assert all(row["duration_ms"] >= 0 for row in log["log"] if row["stage"] in ("encode", "render"))
    text = run_farm("logs", str(bad["id"]), "--workspace", str(ws.root)).stdout
    assert "failed" in text and "InputError" in text
    stats = json.loads(run_farm("queue", "stats", "--json", "--workspace", str(ws.root)).stdout)
    assert stats["by_state"]["ready"] == 2 and stats["by_state"]["failed"] == 1
    assert stats["failures"][0]["error_class"] == "InputError" and stats["failures"][0]["jobs"] == 1
    q = run_farm("sql", "SELECT job_id, frames FROM render_metrics ORDER BY job_id", "--json", "--workspace", str(ws.root))
    assert json.loads(q.stdout) == [{"job_id": good["id"], "frames": 30}, {"job_id": good2["id"], "frames": 30}]
    # retry --failed sends it back; with the file still bad it fails again, attempts counted afresh
    assert json.loads(run_farm("queue", "retry", "--failed", "--json", "--workspace", str(ws.root)).stdout)["retried"] == [bad["id"]]


def test_retryable_failure_is_retried_up_to_the_bound(stocked):
    ws, ids = stocked
    job = enqueue_mashup(ws, mains=[ids["src1"]], template=ids["tpl"])
    calls = []

    def flaky(kind, spec, progress=None):
        from farm.errors import RenderError

        calls.append(spec["output"])
        raise RenderError("encoder hiccup")

    summary = render_queue(ws, render=flaky)
    assert len(calls) == ws.settings.queue.max_attempts == 3
    assert summary.failed and summary.failed[0][0] == job["id"]
    with ws.catalog.read() as con:
        row = catalogs.get_job(con, job["id"])
        assert row["state"] == "failed" and row["attempts"] == 3 and row["error_class"] == "RenderError"
        statuses = [r["status"] for r in catalogs.job_log(con, job["id"]) if r["stage"] == "render"]
        assert statuses == ["retry", "retry", "failed"]


def test_sql_is_read_only_and_reads_metrics(stocked):
    ws, _ = stocked
    r = run_farm("sql", "SELECT kind, count(*) AS n FROM media GROUP BY kind ORDER BY kind", "--json", "--workspace", str(ws.root))
    assert json.loads(r.stdout) == [{"kind": "audio", "n": 1}, {"kind": "source", "n": 2}, {"kind": "template", "n": 1}]
    assert "kind" in run_farm("sql", "SELECT kind FROM media", "--workspace", str(ws.root)).stdout
    for bad in ("DELETE FROM media", "COPY media TO 'x.csv'", "SELECT 1; SELECT 2", "SELEC oops"):
        r = run_farm("sql", bad, "--workspace", str(ws.root))
        assert r.returncode == 2 and r.stderr.startswith("farm: error: SQL:") and r.stderr.count("\n") == 1, bad
    catalogs.append_metrics(ws.metrics_dir, "metrics", [{"upload": "u1", "at": catalogs.utcnow(), "views": 10, "likes": 2,
                                                         "comments": 0, "shares": 1, "engagement_rate": 0.3}])
    r = run_farm("sql", "SELECT upload, views, date FROM metrics", "--json", "--workspace", str(ws.root))
    row = json.loads(r.stdout)[0]
    assert row["upload"] == "u1" and row["views"] == 10 and len(str(row["date"])) == 10
    assert json.loads(run_farm("sql", "SELECT count(*) AS n FROM render_metrics", "--json", "--workspace", str(ws.root)).stdout) == [{"n": 0}]


def test_busy_writer_gets_a_plain_message(stocked):
    ws, _ = stocked
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time;c=duckdb.connect({str(ws.catalog.path)!r});print('held',flush=True);time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        (ws.root / "farm.toml").write_text("[queue]\nlock_wait_s = 0.5\n")
        r = run_farm("queue", "add", "mashup", "--main", "1", "--workspace", str(ws.root))
        assert r.returncode == 75
        assert r.stderr.count("\n") == 1 and f"another farm process (PID {holder.pid}) is using this workspace" in r.stderr
        with pytest.raises(BusyError):
            Workspace(ws.root).catalog.version()
    finally:
        holder.kill()
        holder.wait()
    assert run_farm("queue", "add", "mashup", "--main", "1", "--workspace", str(ws.root)).returncode == 0


# -- hardening found in review -----------------------------------------------------------
def test_sql_cannot_touch_files_network_or_settings(stocked, tmp_path):
    ws, _ = stocked
    target = tmp_path / "pwn.txt"
    for bad in (
        f"EXPLAIN ANALYZE COPY (SELECT 'x') TO '{target}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM glob('/root/*')",
        "SELECT * FROM read_parquet('https://example.invalid/x.parquet')",
    ):
        r = run_farm("sql", bad, "--workspace", str(ws.root))
        assert r.returncode == 2 and r.stderr.count("\n") == 1, (bad, r.stdout, r.stderr)
    assert not target.exists()


def test_retry_rechecks_inputs_and_rights(stocked, library_media):
    ws, ids = stocked
    job = enqueue_mashup(ws, mains=[ids["src1"]], template=ids["tpl"], platform="tiktok")
    run_farm("queue", "cancel", str(job["id"]), "--workspace", str(ws.root))
    with ws.catalog.write() as con:
        con.execute("UPDATE media SET license = 'unknown' WHERE id = ?", [ids["tpl"]])
    r = run_farm("queue", "retry", str(job["id"]), "--workspace", str(ws.root))
    assert r.returncode == 2 and "licence unknown" in r.stderr
    assert run_farm("media", "update", str(ids["tpl"]), "--license", "owned", "--workspace", str(ws.root)).returncode == 0
    remove_media(ws, ids["src1"])
    r = run_farm("queue", "retry", str(job["id"]), "--workspace", str(ws.root))
    assert r.returncode == 2 and "was removed from the library" in r.stderr
    with ws.catalog.read() as con:
        assert catalogs.get_job(con, job["id"])["state"] == "cancelled"


def test_moods_are_words_and_settings_values_are_checked(ws, library_media):
    with pytest.raises(InputError, match="Invalid mood"):
        import_media(ws, [str(library_media["music"])], ImportOptions(mood="../../escaped"))
    r = run_farm("media", "import", str(library_media["music"]), "--mood", "../x", "--workspace", str(ws.root))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Invalid mood" in r.stderr
    assert not (ws.root.parent / "escaped").exists() and not (ws.root.parent / "x").exists()
    (ws.root / "farm.toml").write_text('[media]\ndefault_license = "bogus"\n')
    r = run_farm("media", "list", "--workspace", str(ws.root))
    assert r.returncode == 2 and "media.default_license = 'bogus' is not allowed" in r.stderr
    (ws.root / "farm.toml").write_text("[queue]\nmax_attempts = 0\n")
    r = run_farm("media", "list", "--workspace", str(ws.root))
    assert r.returncode == 2 and "queue.max_attempts must be more than 0" in r.stderr


def test_init_honours_workspace_option(tmp_path):
    target = tmp_path / "via-option"
    r = run_farm("--workspace", str(target), "init", cwd=tmp_path)
    assert r.returncode == 0 and (target / "farm.duckdb").exists()
    assert not (tmp_path / "farm.duckdb").exists()


def test_cache_key_changes_when_content_is_rewritten_in_place(tmp_path):
    import os

    from farm.render import file_key

    p = tmp_path / "t.mp4"
    p.write_bytes(b"a" * 100)
    before = file_key(str(p))
    st = os.stat(p)
    p.write_bytes(b"b" * 100)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, mtime set back
    assert file_key(str(p)) != before
