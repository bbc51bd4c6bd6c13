"""CLI commands over a workspace: init, media, products, queue, logs, sql, nightly."""

from __future__ import annotations

import argparse
import sys
import time

import catalogs
from farm.cli._output import Progress, format_table, print_json
from farm.errors import InputError
from farm.platforms import platform_names
from farm.settings import MOODS, option

MEDIA_COLUMNS_SHOWN = ["id", "kind", "duration_s", "width", "height", "has_audio", "mood", "platform", "license",
                       "usage_count", "path"]
JOB_COLUMNS_SHOWN = ["id", "kind", "state", "platform", "attempts", "error_class", "error_message", "output_path"]


def _ws(args):
    from farm.workspace import find_workspace

    return find_workspace(getattr(args, "workspace", None))


def add_workspace_option(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    p.add_argument(
        "--workspace", metavar="DIR", default=None if top else argparse.SUPPRESS,
        help="the workspace folder (default: $FARM_HOME, else the current folder or the nearest one above)",
    )


def _show_rows(args, rows: list[dict], columns: list[str] | None = None) -> int:
    """Rows as one JSON document (--json) or an aligned table."""
    if args.json:
        print_json(rows)
    else:
        print(format_table(rows, columns))
    return 0


def _import_notes(bar: Progress):
    """An import's ``on_item``: a failure as an error line, an outcome as a note, a step each."""

    def on_item(outcome: str, what: str, detail: str) -> None:
        if outcome == "failed":
            bar.note(f"farm: error: {detail}")
        elif bar.active:
            bar.note(f"{outcome:9} {detail:12} {what}")
        bar.step()

    return on_item


def _leaf(sub, name: str, **kw) -> argparse.ArgumentParser:
    p = sub.add_parser(name, **kw)
    add_workspace_option(p)
    return p


# -- init ---------------------------------------------------------------------------
def add_init(sub) -> None:
    p = sub.add_parser("init", help="create a workspace: farm.toml, farm.duckdb and the media folders")
    p.add_argument("dir", nargs="?", default=None, metavar="DIR", help="the folder (default: --workspace, else the current one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_init)


def _cmd_init(args) -> int:
    from farm.publish import ensure_key_file
    from farm.workspace import init_workspace

    ws, created = init_workspace(args.dir or getattr(args, "workspace", None) or ".")
    ensure_key_file(ws.state_dir)  # account tokens are encrypted with it (mode 0600)
    version = ws.catalog.version()
    if args.json:
        print_json({"workspace": str(ws.root), "created": created, "schema_version": version})
    else:
        verb = "created" if created else "already a workspace; schema checked"
        print(f"{ws.root}: {verb} (schema version {version})")
        if created:
            print("  farm.toml      settings (commented defaults)")
            print("  farm.duckdb    catalog: media, jobs, process log")
            print("  templates/ sources/ audio/<mood>/ products/ out/    media folders")
    return 0


# -- media --------------------------------------------------------------------------
def add_media(sub) -> None:
    p = sub.add_parser("media", help="the media library: import, list, show, remove, cleanup")
    msub = p.add_subparsers(dest="media_cmd", required=True, metavar="ACTION")

    imp = _leaf(msub, "import", help="import files, folders (recursively) or http(s) URLs")
    imp.add_argument("items", nargs="+", metavar="PATH_OR_URL")
    imp.add_argument("--kind", choices=catalogs.MEDIA_KINDS, default=None,
                     help="default: from the workspace folder, else audio/image by content (videos need --kind)")
    imp.add_argument("--mood", default=None, help=f"music mood, e.g. {', '.join(MOODS)}")
    imp.add_argument("--category", default=None)
    imp.add_argument("--platform", choices=platform_names(), default=None, help="only for this platform")
    imp.add_argument("--license", choices=catalogs.LICENSES, default=None,
                     help=f"default from farm.toml ({option('media', 'default_license').default})")
    imp.add_argument("--creator", default=None)
    imp.add_argument("--source-url", default=None)
    imp.add_argument("--attribution", default=None, help="credit line burned into videos that use it")
    imp.add_argument("--link", action="store_true", help="register files where they are instead of copying")
    imp.add_argument("--max-bytes", type=int, default=None, help="cap on one URL download (default from farm.toml: "
                     f"{option('media', 'max_download_bytes').default / 1024**3:g} GiB)")
    imp.add_argument("--json", action="store_true")
    imp.add_argument("-q", "--quiet", action="store_true")
    imp.set_defaults(func=_cmd_media_import)

    ls = _leaf(msub, "list", help="list media")
    ls.add_argument("--kind", choices=catalogs.MEDIA_KINDS, default=None)
    ls.add_argument("--mood", default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_media_list)

    show = _leaf(msub, "show", help="one media item and the jobs that used it")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_cmd_media_show)

    rm = _leaf(msub, "remove", help="delete a media item (and its file in the workspace)")
    rm.add_argument("id", type=int)
    rm.add_argument("--keep-file", action="store_true")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=_cmd_media_remove)

    up = _leaf(msub, "update", help="change a media item's licence, tags or credits")
    up.add_argument("id", type=int)
    up.add_argument("--license", choices=catalogs.LICENSES, default=None)
    up.add_argument("--mood", default=None)
    up.add_argument("--category", default=None)
    up.add_argument("--platform", choices=platform_names(), default=None)
    up.add_argument("--creator", default=None)
    up.add_argument("--source-url", default=None)
    up.add_argument("--attribution", default=None)
    up.add_argument("--json", action="store_true")
    up.set_defaults(func=_cmd_media_update)

    cl = _leaf(msub, "cleanup", help="delete processed media older than DAYS (never what a pending job needs)")
    cl.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    cl.add_argument("--kind", choices=catalogs.MEDIA_KINDS, default="source")
    cl.add_argument("--dry-run", action="store_true", help="list what would go")
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(func=_cmd_media_cleanup)


def _cmd_media_import(args) -> int:
    from farm.library import ImportOptions, import_media

    ws = _ws(args)
    opts = ImportOptions(
        kind=args.kind, mood=args.mood, category=args.category, platform=args.platform, license=args.license,
        creator=args.creator, source_url=args.source_url, attribution=args.attribution, link=args.link,
        max_bytes=args.max_bytes,
    )
    if args.max_bytes is not None and args.max_bytes <= 0:
        raise InputError(f"--max-bytes must be positive, not {args.max_bytes}")
    quiet = args.quiet or args.json
    with Progress("import", unit="file", quiet=quiet) as bar:
        report = import_media(ws, args.items, opts, on_item=_import_notes(bar))
    if args.json:
        print_json({
            "added": report.added, "duplicates": report.duplicates,
            "failed": [{"item": i, "error": e} for i, e in report.failed],
        })
    else:
        print(f"{len(report.added)} added, {len(report.duplicates)} already in the library, {len(report.failed)} failed")
    return 0 if report.ok else 2


def _cmd_media_list(args) -> int:
    ws = _ws(args)
    with ws.catalog.read() as con:
        rows = catalogs.list_media(con, kind=args.kind, mood=args.mood)
    return _show_rows(args, rows, MEDIA_COLUMNS_SHOWN)


def _cmd_media_show(args) -> int:
    ws = _ws(args)
    with ws.catalog.read() as con:
        row = catalogs.get_media(con, args.id)
        if row is None:
            raise InputError(f"media {args.id}: no such media")
        row["jobs"] = catalogs.jobs_using(con, args.id)
    if args.json:
        print_json(row)
    else:
        for k, v in row.items():
            print(f"{k:14} {v if v is not None else '-'}")
    return 0


def _cmd_media_update(args) -> int:
    from farm.library import UPDATABLE, update_media

    changes = {k: getattr(args, k) for k in UPDATABLE if getattr(args, k) is not None}
    if not changes:
        raise InputError("media update: nothing to change (give --license, --mood, ...)")
    row = update_media(_ws(args), args.id, changes)
    if args.json:
        print_json(row)
    else:
        print(f"media {args.id}: " + ", ".join(f"{k} = {v}" for k, v in changes.items()))
    return 0


def _cmd_media_remove(args) -> int:
    from farm.library import remove_media

    row = remove_media(_ws(args), args.id, keep_file=args.keep_file)
    if args.json:
        print_json(row)
    else:
        print(f"removed media {row['id']} ({row['kind']}, {row['path']})")
    return 0


def _cmd_media_cleanup(args) -> int:
    from farm.library import cleanup_media

    rows = cleanup_media(_ws(args), older_than_days=args.older_than, kind=args.kind, dry_run=args.dry_run)
    if args.json:
        print_json(rows)
    else:
        freed = sum(r.get("size_bytes") or 0 for r in rows)
        verb = "would delete" if args.dry_run else "deleted"
        print(f"{verb} {len(rows)} {args.kind} media ({freed / 1e6:.1f} MB)")
        for r in rows:
            print(f"  {r['id']:6}  {r['path']}")
    return 0


# -- products -----------------------------------------------------------------------
PRODUCT_COLUMNS_SHOWN = ["id", "name", "price_shown", "language", "image_count", "platforms", "mood",
                         "times_promoted", "tracking"]


def add_products(sub) -> None:
    p = sub.add_parser("products", help="products for promos: import, list, show")
    psub = p.add_subparsers(dest="products_cmd", required=True, metavar="ACTION")

    imp = _leaf(psub, "import", help="import products from YAML, JSON or CSV files (with their images)")
    imp.add_argument("items", nargs="+", metavar="FILE_OR_CSV")
    imp.add_argument("--license", choices=catalogs.LICENSES, default=None,
                     help=f"licence of the product images (default from farm.toml: "
                          f"{option('media', 'default_license').default})")
    imp.add_argument("--max-bytes", type=int, default=None, help="cap on one image download")
    imp.add_argument("--json", action="store_true")
    imp.add_argument("-q", "--quiet", action="store_true")
    imp.set_defaults(func=_cmd_products_import)

    ls = _leaf(psub, "list", help="list products, least promoted first")
    ls.add_argument("--language", choices=catalogs.LANGUAGES, default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_products_list)

    show = _leaf(psub, "show", help="one product with its images")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_cmd_products_show)


def _price_shown(row: dict) -> dict:
    from farm.text import format_price

    row["price_shown"] = format_price(row["price"], row["currency"])
    return row


def _cmd_products_import(args) -> int:
    from farm.library import import_products

    if args.max_bytes is not None and args.max_bytes <= 0:
        raise InputError(f"--max-bytes must be positive, not {args.max_bytes}")
    ws = _ws(args)
    with Progress("import", unit="product", quiet=args.quiet or args.json) as bar:
        report = import_products(ws, args.items, license=args.license, max_bytes=args.max_bytes,
                                 on_item=_import_notes(bar))
    if args.json:
        print_json({
            "added": [_price_shown(r) for r in report.added],
            "duplicates": [_price_shown(r) for r in report.duplicates],
            "failed": [{"item": i, "error": e} for i, e in report.failed],
        })
    else:
        print(f"{len(report.added)} added, {len(report.duplicates)} already in the catalog, "
              f"{len(report.failed)} failed")
    return 0 if report.ok else 2


def _with_tracking(row: dict, settings) -> dict:
    """The row with ``tracking`` (how its links carry a sub-id, or why not) and ``tracked``."""
    from farm.revenue import tracking_for

    said = tracking_for(row, settings.affiliate)
    row["tracking"], row["tracked"] = said["tracking"], said["tracked"]
    return row


def _cmd_products_list(args) -> int:
    ws = _ws(args)
    with ws.catalog.read() as con:
        rows = [_with_tracking(_price_shown(r), ws.settings)
                for r in catalogs.list_products(con, language=args.language)]
    if not args.json:
        for r in rows:
            r["platforms"] = ",".join(r["platforms"])
    return _show_rows(args, rows, PRODUCT_COLUMNS_SHOWN)


def _cmd_products_show(args) -> int:
    ws = _ws(args)
    with ws.catalog.read() as con:
        row = catalogs.get_product(con, args.id)
    if row is None:
        raise InputError(f"product {args.id}: no such product")
    _with_tracking(_price_shown(row), ws.settings)
    if args.json:
        print_json(row)
        return 0
    for k, v in row.items():
        if k == "images":
            print(f"{'images':16} {len(v)}")
            for img in v:
                print(f"  media {img['id']:<6} {img['width']}x{img['height']}  {img['path']}")
        elif k == "selling_points":
            print(f"{'selling_points':16} {len(v)}")
            for point in v:
                print(f"  - {point}")
        else:
            print(f"{k:16} {(', '.join(v) if isinstance(v, list) else v) if v is not None else '-'}")
    return 0


# -- queue --------------------------------------------------------------------------
def add_queue(sub) -> None:
    p = sub.add_parser("queue", help="the job queue: add, list, stats, retry, cancel, render")
    qsub = p.add_subparsers(dest="queue_cmd", required=True, metavar="ACTION")

    add = qsub.add_parser("add", help="add a job")
    asub = add.add_subparsers(dest="job_kind", required=True, metavar="KIND")
    m = _leaf(asub, "mashup", help="a 2/3 + 1/3 mashup of library media")
    m.add_argument("--main", type=int, action="append", required=True, metavar="ID", help="main clip (repeat for several)")
    m.add_argument("--template", type=int, default=None, metavar="ID", help="default: the least used template")
    g = m.add_mutually_exclusive_group()
    g.add_argument("--music", type=int, default=None, metavar="ID")
    g.add_argument("--mood", default=None, help="pick the least used track of this mood")
    m.add_argument("--platform", choices=platform_names(), default=None, help="meant for publishing there")
    m.add_argument("--caption", default=None)
    m.add_argument("--seed", type=int, default=0, help="tie-break for picking media (same seed, same choice)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_cmd_queue_add_mashup)

    pr = _leaf(asub, "promo", help="a product promo (words written now, by the AI server or the template writer)")
    src = pr.add_mutually_exclusive_group(required=True)
    src.add_argument("product", nargs="?", default=None, metavar="PRODUCT_FILE_OR_ID",
                     help="a catalog product id, or a product file (imported first)")
    src.add_argument("--csv", default=None, metavar="PRODUCTS.csv", help="import every product of a CSV and queue "
                                                                          "a promo of each")
    pr.add_argument("--platform", choices=platform_names(), default=None, help="meant for publishing there")
    pr.add_argument("--template", type=int, default=None, metavar="ID", help="a template (media id) in the 1/3 box")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=_cmd_queue_add_promo)

    sh = _leaf(qsub, "show", help="one job: its spec, state, post metadata per platform and where its words came from")
    sh.add_argument("id", type=int)
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=_cmd_queue_show)

    ls = _leaf(qsub, "list", help="list jobs")
    ls.add_argument("--state", choices=catalogs.JOB_STATES, default=None)
    ls.add_argument("--limit", type=int, default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_queue_list)

    st = _leaf(qsub, "stats", help="counts by state and platform, commonest failures")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_cmd_queue_stats)

    rt = _leaf(qsub, "retry", help="send failed (or cancelled) jobs back to pending")
    rg = rt.add_mutually_exclusive_group(required=True)
    rg.add_argument("id", type=int, nargs="?", default=None)
    rg.add_argument("--failed", action="store_true", help="every failed job")
    rt.add_argument("--json", action="store_true")
    rt.set_defaults(func=_cmd_queue_retry)

    cn = _leaf(qsub, "cancel", help="cancel a pending, failed or ready job")
    cn.add_argument("id", type=int)
    cn.add_argument("--json", action="store_true")
    cn.set_defaults(func=_cmd_queue_cancel)

    rd = _leaf(qsub, "render", help="render pending jobs in this process and record the results")
    rd.add_argument("--limit", type=int, default=None, metavar="N")
    rd.add_argument("--json", action="store_true")
    rd.add_argument("-q", "--quiet", action="store_true")
    rd.set_defaults(func=_cmd_queue_render)


def _cmd_queue_add_mashup(args) -> int:
    from farm.jobs import enqueue_mashup

    ws = _ws(args)
    job = enqueue_mashup(
        ws, mains=args.main, template=args.template, music=args.music, mood=args.mood, platform=args.platform,
        caption=args.caption, seed=args.seed,
    )
    if args.json:
        print_json(job)
    else:
        print(f"job {job['id']}: pending mashup -> {job['spec']['output']}")
    return 0


def _cmd_queue_add_promo(args) -> int:
    from farm.jobs import enqueue_promo, make_writer
    from farm.library import import_products

    ws = _ws(args)
    if args.product is not None and args.product.isdigit():
        product_ids = [int(args.product)]
        failed = []
    else:
        report = import_products(ws, [args.csv or args.product])
        for _, err in report.failed:
            print(f"farm: error: {err}", file=sys.stderr)
        product_ids = [int(r["id"]) for r in report.added + report.duplicates]
        failed = report.failed
    writer = make_writer(ws, ws.settings)  # one for all: a dead server is given up on once
    jobs = []
    for pid in product_ids:
        job_id = enqueue_promo(ws, pid, platform=args.platform, seed=args.seed, writer=writer, template=args.template)
        with ws.catalog.read() as con:
            jobs.append(catalogs.get_job(con, job_id))
    if args.json:
        print_json(jobs if args.csv else (jobs[0] if jobs else None))
    else:
        for job in jobs:
            print(f"job {job['id']}: pending promo -> {job['spec']['output']} (text: {job['text_source']}"
                  f"{'; ' + job['text_source_reason'] if job['text_source_reason'] else ''})")
    return 2 if failed else 0


def _cmd_queue_show(args) -> int:
    from farm.jobs import job_detail

    ws = _ws(args)
    with ws.catalog.read() as con:
        job = job_detail(con, args.id)
    if job is None:
        raise InputError(f"job {args.id}: no such job")
    if args.json:
        print_json(job)
        return 0
    print(f"job {job['id']} ({job['kind']}): {job['state']}, platform {job['platform'] or '-'}, "
          f"{job['attempts']} attempt(s)" + (f", output {job['output_path']}" if job["output_path"] else ""))
    for link in job["affiliate_links"]:
        print(f"sub-id [{link['platform']}]: {link['sub_id']}" + ("" if link["tracked"] else " (untracked)")
              + (f": {link['note']}" if link["note"] else ""))
    if job.get("text_source"):
        print(f"text: {job['text_source']}" + (f" ({job['text_source_reason']})" if job["text_source_reason"] else "")
              + f", {job['ai_tokens']} AI tokens")
    for platform, post in (job.get("post_metadata") or {}).items():
        print(f"\n[{platform}] {post['title']}")
        print(post["description"])
        if post.get("link"):
            print(f"link ({post['link_placement']}): {post['link']}"
                  + (f" (sub-id {post['sub_id']})" if post.get("sub_id") else ""))
        print("flags: " + ", ".join(f"{k}={v}" for k, v in post["flags"].items()))
    return 0


def _cmd_queue_list(args) -> int:
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, not {args.limit}")
    ws = _ws(args)
    with ws.catalog.read() as con:
        rows = catalogs.list_jobs(con, state=args.state, limit=args.limit)
    return _show_rows(args, rows, JOB_COLUMNS_SHOWN)


def _cmd_queue_stats(args) -> int:
    ws = _ws(args)
    with ws.catalog.read() as con:
        stats = catalogs.queue_stats(con)
    if args.json:
        print_json(stats)
        return 0
    print(f"{stats['total']} jobs: " + ", ".join(f"{s} {n}" for s, n in stats["by_state"].items() if n))
    if stats["by_platform"]:
        print("\nby platform")
        print(format_table(stats["by_platform"]))
    if stats["failures"]:
        print("\ncommonest failures")
        print(format_table(stats["failures"]))
    text = stats["text"]
    if text["by_source"]:
        print("\npost text: " + ", ".join(f"{n} from {s}" for s, n in text["by_source"].items())
              + f"; {text['ai_tokens']} AI tokens in all")
    return 0


def _cmd_queue_retry(args) -> int:
    from farm.jobs import retry_jobs

    ids = retry_jobs(_ws(args), args.id)
    if args.json:
        print_json({"retried": ids})
    else:
        print(f"{len(ids)} job(s) back to pending" + (f": {', '.join(map(str, ids))}" if ids else ""))
    return 0


def _cmd_queue_cancel(args) -> int:
    from farm.jobs import cancel_job

    was = cancel_job(_ws(args), args.id)
    if args.json:
        print_json({"id": args.id, "state": "cancelled", "was": was})
    else:
        print(f"job {args.id}: cancelled (was {was})")
    return 0


def _cmd_queue_render(args) -> int:
    from farm.batch import render_queue

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, not {args.limit}")
    ws = _ws(args)
    quiet = args.quiet or args.json
    total = None
    if not quiet:
        with ws.catalog.read() as con:
            pending = catalogs.queue_stats(con)["by_state"]["pending"]
        total = min(pending, args.limit) if args.limit else pending
    with Progress("render", unit="job", total=total, quiet=quiet) as bar:

        def on_job(event: str, job: dict, info: dict | None) -> None:
            if event == "start":
                bar.status(f"job {job['id']}")
            elif event == "done":
                bar.step()
                bar.status(f"job {job['id']} {info['render_fps']:.0f} fps")
            elif bar.active:
                if info["state"] == "failed":
                    bar.step()
                bar.note(f"job {job['id']}: {info['state']}: {info['error']}")

        summary = render_queue(ws, limit=args.limit, on_job=on_job)
    if args.json:
        print_json(summary.as_dict())
    else:
        rec = summary.recovered
        if rec.get("rendering") or rec.get("missing_output"):
            print(f"recovered {rec['rendering']} job(s) left rendering and {rec['missing_output']} with missing output")
        print(f"{len(summary.rendered)} rendered, {len(summary.failed)} failed, {len(summary.retried)} to retry, "
              f"{summary.frames} frames in {summary.wall_s:.1f} s")
        for failure in summary.failed:
            print(f"  job {failure.id}: {failure.error}")
    return 0 if not summary.failed else 1


# -- logs, sql ----------------------------------------------------------------------
def add_logs(sub) -> None:
    p = _leaf(sub, "logs", help="a job's history: every stage with its outcome and duration")
    p.add_argument("job_id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_logs)


def _cmd_logs(args) -> int:
    ws = _ws(args)
    with ws.catalog.read() as con:
        job = catalogs.get_job(con, args.job_id)
        if job is None:
            raise InputError(f"job {args.job_id}: no such job")
        rows = catalogs.job_log(con, args.job_id)
    if args.json:
        print_json({"job": job, "log": rows})
    else:
        print(f"job {job['id']} ({job['kind']}): {job['state']}, {job['attempts']} attempt(s)"
              + (f", output {job['output_path']}" if job["output_path"] else "")
              + (f", last error {job['error_class']}: {job['error_message']}" if job["error_message"] else ""))
        print(format_table(rows, ["at", "stage", "status", "duration_ms", "detail"]))
    return 0


def add_sql(sub) -> None:
    p = _leaf(sub, "sql", help="read-only SQL over the catalog and the Parquet metric history")
    p.add_argument("query", metavar="SQL", help="e.g. \"SELECT state, count(*) FROM jobs GROUP BY ALL\"")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="stop a query after this long (default 60): a reader holds writers off")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_sql)


def _cmd_sql(args) -> int:
    ws = _ws(args)
    with ws.catalog.read() as con:
        rows = catalogs.read_only_query(con, args.query, metrics_dir=ws.metrics_dir, timeout_s=args.timeout)
    return _show_rows(args, rows)


# -- nightly --------------------------------------------------------------------------
def add_nightly(sub) -> None:
    p = _leaf(sub, "nightly", help="plan a batch of mashups from the library and render every pending job on Ray")
    p.add_argument("--count", type=int, default=None, metavar="N", help=f"jobs to plan (default from farm.toml: {option('nightly', 'count').default})")
    p.add_argument("--platform", action="append", choices=platform_names(), default=None, metavar="P",
                   help="target platform, repeat for several (jobs alternate); default: none (local renders)")
    p.add_argument("--mood", default=None, help=f"music mood (default from farm.toml: {option('nightly', 'mood').default})")
    p.add_argument("--caption", default=None, help="caption burned into every video of the batch")
    p.add_argument("--promos", type=int, default=0, metavar="N",
                   help="also plan N product promos, least promoted products first")
    p.add_argument("--seed", type=int, default=None, help="tie-break for planning (default 0; same seed, same plan)")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="Ray cluster to join ('auto' or host:port; default $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--workers", type=int, default=None, metavar="K", help="render workers (default: one per CPU slot)")
    p.add_argument("--dry-run", action="store_true", help="print the plan; enqueue and render nothing")
    p.add_argument("--json", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_nightly)


def _cmd_nightly(args) -> int:
    from farm.batch import run_nightly, unfinished_batch
    from farm.jobs import plan_batch

    ws = _ws(args)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be at least 1, not {args.workers}")
    if args.dry_run:
        resume = unfinished_batch(ws)
        count = ws.settings.nightly.count if args.count is None else args.count
        plans, notes = [], []
        if count or not args.promos:
            with ws.catalog.read() as con:
                plans, notes = plan_batch(ws, con, count=count, platforms=args.platform, mood=args.mood,
                                          seed=args.seed if args.seed is not None else 0)
        promos = []
        if args.promos:
            if args.promos < 0:
                raise InputError(f"--promos must be 0 or more, not {args.promos}")
            with ws.catalog.read() as con:
                products = catalogs.list_products(con)
            for k in range(args.promos):  # least promoted first, as the batch would take them
                platform = args.platform[k % len(args.platform)] if args.platform else None
                fits = [p for p in products if platform is None or platform in p["platforms"]]
                if fits:
                    p = fits[0]
                    products.remove(p)
                    products.append(p)  # promoted once more: to the back of the line
                    promos.append({"product": p["id"], "name": p["name"], "times_promoted": p["times_promoted"],
                                   "platform": platform})
        if args.json:
            print_json({"dry_run": True, "would_resume": resume, "plan": plans, "promos": promos, "notes": notes})
        else:
            if resume:
                print(f"an unfinished batch ({resume}) is pending: `farm nightly` would finish it instead of planning")
            if plans:
                learned = any(p.get("account") for p in plans)
                print(format_table(plans, ["platform", *(["account", "publish_after"] if learned else []), "main",
                                           "template", "music", "mood", "main_path", "template_path"]))
            if promos:
                print(format_table(promos, ["platform", "product", "name", "times_promoted"]))
            for n in notes:
                print(f"note: {n}")
        return 0
    quiet = args.quiet or args.json
    state: dict = {"bar": None, "t0": time.perf_counter()}

    def on_event(name: str, data: dict) -> None:
        if quiet:
            return
        bar = state["bar"]
        if name == "planned":
            what = f"resuming {data['batch_id']}" if data["resumed"] else f"planned {data['planned']} job(s) ({data['batch_id']})"
            print(f"{what}; {data['pending']} pending to render", file=sys.stderr)
            for n in data["notes"]:
                print(f"note: {n}", file=sys.stderr)
            if data["pending"]:
                state["bar"] = Progress("nightly", unit="job", total=data["pending"])
                state["t0"] = time.perf_counter()
        elif name == "ray":
            where = data.get("dashboard_url") or data["address"]
            res = data["resources"]
            print(f"ray: {int(res.get('CPU', 0))} CPU, {int(res.get('GPU', 0))} GPU; dashboard {where}", file=sys.stderr)
        elif bar is None:
            return
        elif name == "done":
            bar.step()
            bar.status(f"{data['total_frames'] / max(1e-6, time.perf_counter() - state['t0']):.0f} fps")
        elif name == "failed":
            bar.step()
            bar.note(f"job {data['job_id']}: failed: {data['error']}")
        elif name == "timeout":
            bar.note(f"job {data['job_id']}: no result within queue.job_timeout_s; restarting {data['worker']}")
        elif name in ("retry", "lost"):
            bar.note(f"job {data['job_id']}: {data['state']} ({data['error']})")

    from actors import RenderWorker  # the actor class farm.batch runs on Ray (it does not import actors)

    try:
        summary = run_nightly(ws, worker_class=RenderWorker, count=args.count, platforms=args.platform,
                              mood=args.mood, caption=args.caption, seed=args.seed, promos=args.promos,
                              address=args.address, workers=args.workers, on_event=on_event)
    finally:
        if state["bar"] is not None:
            state["bar"].close()
    doc = summary.as_dict()
    if args.json:
        print_json(doc)
    else:
        print(f"batch {doc['batch_id']}: {len(doc['rendered'])} rendered, {len(doc['failed'])} failed, "
              f"{len(doc['retried'])} attempt(s) retried")
        if doc["rendered"]:
            print(f"  {doc['render_wall_s']:.1f} s rendering ({doc['wall_s']:.1f} s in all), {doc['videos_per_hour']:.0f} videos/hour, "
                  f"{doc['fps']:.1f} fps over {len(doc['workers'])} worker(s)")
        for f in doc["failed"]:
            print(f"  job {f['id']}: {f['error']}")
        print(f"  outputs: {ws.out_dir}   catalog: {ws.catalog.path}")
    return 0 if not doc["failed"] else 1
