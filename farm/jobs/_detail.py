"""One job as `farm queue show --json` prints it and the web API returns it: the row, its inputs, its sub-ids."""

from __future__ import annotations

import catalogs


def with_sub_ids(job: dict, links: list[dict]) -> dict:
    """``sub_ids`` ({platform: the sub-id its post's link carries}), ``sub_id`` (the job's platform's; for a
    job made for several platforms, the first of them whose link carries one, in the platforms' order; None
    when no link does) and ``affiliate_links`` (every post's link, tracked or not, with its note)."""
    job["affiliate_links"] = [{k: r[k] for k in ("platform", "sub_id", "network", "url", "tracked", "note")}
                              for r in links]
    job["sub_ids"] = {r["platform"]: r["sub_id"] for r in links if r["tracked"]}
    mine = job["sub_ids"].get(job["platform"]) if job["platform"] else None
    order = [p for p in (job.get("post_metadata") or {}) if p in job["sub_ids"]] or list(job["sub_ids"])
    job["sub_id"] = mine or (job["sub_ids"][order[0]] if order else None)
    return job


def job_detail(con, job_id: int) -> dict | None:
    """The job with ``inputs``, its process ``log`` and its sub-ids (see :func:`with_sub_ids`); None when
    there is no such job."""
    job = catalogs.get_job(con, job_id)
    if job is None:
        return None
    job["inputs"] = catalogs.job_inputs(con, job_id)
    job["log"] = catalogs.job_log(con, job_id)
    return with_sub_ids(job, catalogs.get_links(con, job_id))
