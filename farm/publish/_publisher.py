"""`farm publish`: due ready jobs to accounts, uploaded exactly once per (job, platform), recorded by the driver.

A pass resumes what is under way, asks again about published uploads the platforms still
owe something about (``follow_up``), assigns due jobs to accounts (``Planner``) and runs one
:class:`~farm.publish._flow.UploadFlow` per (job, platform) on an executor:
:class:`LocalUploads` in this process, :class:`RayUploads` on a pool of Uploader actors.
The driver alone writes the catalog, between steps.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import catalogs
from farm.cluster import start_ray
from farm.errors import InputError
from farm.publish._account_tokens import clear_key_problems, keyring
from farm.publish._accounts import account_notices
from farm.publish._assign import Planner, job_targets
from farm.publish._flow import Context, Flow, Outcome, Reporter, UploadFlow
from farm.publish._ledger import IN_FLIGHT, follow_up, settle_job
from farm.publish._steps import StepRunner
from farm.workspace import Workspace


@dataclass
class Sweep:
    """What one pass did: outcomes, the assignment reasons (dry run), jobs refused, notices."""

    outcomes: list[Outcome] = field(default_factory=list)
    assignments: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"outcomes": [o.as_dict() for o in self.outcomes], "assignments": self.assignments,
                "refused": self.refused, "notices": self.notices,
                "counts": {s: sum(1 for o in self.outcomes if o.status == s)
                           for s in sorted({o.status for o in self.outcomes})}}


# -- executors: where steps run ---------------------------------------------------------------
class LocalUploads:
    """Runs every flow's steps in this process, one upload at a time (``farm publish --local``)."""

    def __init__(self, runner: StepRunner) -> None:
        self.runner = runner

    def drive(self, flows: list[tuple[Flow, Callable[[Outcome], None]]], reporter: Reporter) -> None:
        for flow, on_done in flows:
            try:
                step = next(flow)
                while True:
                    step = flow.send(self.runner.run(step))
            except StopIteration as stop:
                on_done(stop.value)


class RayUploads:
    """Runs steps on a pool of lightweight Uploader actors (``actor_class``, e.g. ``actors.Uploader``);
    the driver keeps every flow and the ledger."""

    def __init__(self, root: Path, *, actor_class: type, workers: int, address: str | None = None) -> None:
        import ray

        self.started_here, self.cluster = start_ray(address)
        actor = ray.remote(actor_class).options(num_cpus=0.25, max_restarts=1, max_task_retries=0)
        self.actors = [actor.remote(str(root)) for _ in range(max(1, workers))]

    def drive(self, flows: list[tuple[Flow, Callable[[Outcome], None]]], reporter: Reporter) -> None:
        import ray

        waiting = list(flows)
        running: dict = {}  # object ref -> (flow, on_done, actor)
        free = list(self.actors)

        def advance(flow, on_done, actor, result) -> None:
            try:
                step = next(flow) if result is None else flow.send(result)
            except StopIteration as stop:
                free.append(actor)
                on_done(stop.value)
                return
            running[actor.run.remote(step)] = (flow, on_done, actor)

        while waiting or running:
            while waiting and free:
                flow, on_done = waiting.pop(0)
                advance(flow, on_done, free.pop(0), None)
            if not running:
                continue
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            flow, on_done, actor = running.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as err:  # the actor died: the step is treated as a dropped connection
                # the step may have reached the platform: never take it as a refusal (a finish sent twice)
                result = {"ok": False, "error_class": "RetryableError", "unanswered": True,
                          "message": f"uploader lost ({type(err).__name__})"}
            advance(flow, on_done, actor, result)

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
        if self.started_here:
            ray.shutdown()


# -- one sweep ---------------------------------------------------------------------------------
def _due_jobs(con, now: datetime) -> list[dict]:
    return [catalogs.get_job(con, job_id) for job_id in catalogs.due_job_ids(con, now)]


def _refuse_unknown_rights(con, job: dict) -> str | None:
    """The message refusing a job built from media whose licence is unknown (None: all known)."""
    unknown = []
    for inp in catalogs.job_inputs(con, job["id"]):
        media = catalogs.get_media(con, inp["media_id"])
        if media is not None and media["license"] == "unknown":
            unknown.append(f"media {media['id']} ({Path(media['path']).name})")
    if not unknown:
        return None
    return (f"job {job['id']}: refused for publishing: {', '.join(unknown)} has licence unknown; set the licence "
            "with `farm media update ID --license ...` and `farm queue retry`, or leave it unpublished")


@dataclass
class _Plan:
    """What a pass will do: (job, platform, account) to upload, and each job's target platforms."""

    work: list[tuple[dict, str, dict]] = field(default_factory=list)
    targets: dict[int, list[str]] = field(default_factory=dict)
    jobs: list[dict] = field(default_factory=list)


def _resume(con, planner: Planner, name: str | None, plan: _Plan, result: Sweep) -> set[tuple[int, str]]:
    """Uploads under way go on with their account (unless it waits for a reconnect)."""
    resume = [u for u in catalogs.list_uploads(con, states=IN_FLIGHT) if name is None or u["platform"] == name]
    for u in resume:
        acc = catalogs.find_account(con, u["account_id"])
        if acc.get("needs_reconnect") or acc.get("key_problem"):  # the upload waits for the user
            result.assignments.append({"job_id": u["job_id"], "platform": u["platform"], "account": None,
                                       "wait": f"{u['platform']}:{acc['username']} needs reconnect (an upload "
                                               "is under way on it)", "reasons": []})
            continue
        plan.work.append((catalogs.get_job(con, u["job_id"]), u["platform"], acc))
    return {(u["job_id"], u["platform"]) for u in resume}


def _plan(ws: Workspace, at: datetime, name: str | None, dry_run: bool, result: Sweep) -> _Plan:
    """Resume what is under way, then choose an account for each due (job, platform)."""
    plan = _Plan()
    with ws.catalog.read() as con:
        plan.jobs = _due_jobs(con, at)
        planner = Planner(con, ws.settings, now=at)
        active, known = planner.active_platforms(), planner.account_platforms()
        busy = _resume(con, planner, name, plan, result)
        told: set[int] = set()
        for job in plan.jobs:
            rows = {u["platform"]: u for u in catalogs.list_uploads(con, job_id=job["id"])
                    if u["state"] != "assigned" or dry_run}
            targets = list(dict.fromkeys([*job_targets(job, active, known), *rows]))
            plan.targets[job["id"]] = targets
            why = _refuse_unknown_rights(con, job)
            if why is not None:
                if not any(u["state"] in IN_FLIGHT for u in rows.values()):
                    result.refused.append({"job_id": job["id"], "message": why})
                continue
            for target_name in targets:
                if (name is not None and target_name != name) or target_name in rows or (job["id"], target_name) in busy:
                    continue
                target = planner.choose(job["id"], target_name)
                acc = target.account
                result.assignments.append({
                    "job_id": job["id"], "platform": target_name,
                    "account": f"{target_name}:{acc['username']}" if acc else None,
                    "wait": target.wait, "reasons": target.reasons})
                if acc is None:
                    continue
                if acc["id"] not in told:
                    told.add(acc["id"])
                    result.notices += [f"{target_name}:{acc['username']}: {n}" for n in account_notices(acc, ws.settings)]
                plan.work.append((job, target_name, acc))
        for job, target_name, _ in plan.work:
            targets = plan.targets.setdefault(job["id"], job_targets(job, active, known))
            if target_name not in targets:
                targets.append(target_name)
    return plan


def _record_refusals(ws: Workspace, plan: _Plan, result: Sweep, reporter: Reporter) -> None:
    for r in result.refused:
        with ws.catalog.write() as con:
            state = catalogs.get_job(con, r["job_id"])["state"]
            catalogs.move(con, r["job_id"], "failed", expect=(state,) if state in ("ready", "publishing") else None,
                          sets={"error_class": "RightsError", "error_message": r["message"]})
            catalogs.log_stage(con, r["job_id"], "publish", status="failed", detail=r["message"])
        reporter.note(f"refused: {r['message']}")
    for a in result.assignments:
        if a["account"] is None and a["wait"]:
            reporter.note(f"job {a['job_id']} -> {a['platform']}: waiting: {a['wait']}")
    # a job whose uploads all ended (a run killed before it recorded the job's state): settle it now
    in_work = {job["id"] for job, _, _ in plan.work}
    for job in plan.jobs:
        if job["state"] == "publishing" and job["id"] not in in_work:
            settle_job(ws, job["id"], plan.targets[job["id"]])


def _before(ws: Workspace) -> None:
    """Start of a pass: rows left ``assigned`` by a crash (nothing remote behind them) are dropped,
    and accounts whose token the keys read again lose their key mark."""
    with ws.catalog.write() as con:
        catalogs.drop_assigned_uploads(con)
        marked = any(a.get("key_problem") for a in catalogs.list_accounts(con))
    if marked:
        try:
            clear_key_problems(ws, keyring(ws))
        except InputError:
            pass  # no keys at all: the accounts stay marked


def sweep(ws: Workspace, *, platform: str | None = None, dry_run: bool = False, local: bool = True,
          reporter: Reporter | None = None, now: Callable[[], datetime] = catalogs.utcnow,
          sleep: Callable[[float], None] = time.sleep, address: str | None = None, transport=None,
          uploader: type | None = None) -> Sweep:
    """One publishing pass: resume what is under way, follow up published uploads, assign due jobs,
    upload, record.

    Args:
        platform: only this platform's uploads.
        dry_run: say which account would take which job and why, change nothing.
        local: run uploads in this process; else on Ray actors of class ``uploader``
            (``actors.Uploader``).
        now, sleep, transport: the clock, the waits and the HTTP transport (tests).
    """
    reporter = reporter or Reporter()
    result = Sweep()
    if not local and uploader is None and not dry_run:
        raise InputError("farm publish on Ray needs the Uploader actor class (actors.Uploader)")
    if not dry_run:
        _before(ws)
    plan = _plan(ws, now(), platform, dry_run, result)
    if dry_run:
        return result
    _record_refusals(ws, plan, result, reporter)
    runner = StepRunner(ws.root, transport=transport, sleep=sleep)
    try:
        for line in follow_up(ws, runner, now=now(), name=platform):
            result.notices.append(line)
            reporter.note(line)
        if plan.work:
            _upload(ws, plan, result, runner, reporter=reporter, now=now, sleep=sleep, local=local, address=address,
                    uploader=uploader)
    finally:
        runner.close()
    return result


def _upload(ws: Workspace, plan: _Plan, result: Sweep, runner: StepRunner, *, reporter: Reporter,
            now: Callable[[], datetime], sleep: Callable[[float], None], local: bool, address: str | None,
            uploader: type | None) -> None:
    ctx = Context(ws, now=now, sleep=sleep, reporter=reporter, runner=runner)
    reporter.total(sum(int(job["output_size_bytes"] or 0) for job, _, _ in plan.work), uploads=len(plan.work))
    executor = LocalUploads(runner) if local else RayUploads(ws.root, actor_class=uploader,
                                                               workers=ws.settings.publish.workers, address=address)

    def finished(outcome: Outcome) -> None:
        result.outcomes.append(outcome)
        reporter.finished(outcome)
        reporter.note(f"job {outcome.job_id} -> {outcome.account}: {outcome.status}: {outcome.message}")
        settle_job(ws, outcome.job_id, plan.targets[outcome.job_id])

    try:
        executor.drive([(UploadFlow(ctx, job, name, acc).run(), finished) for job, name, acc in plan.work], reporter)
    finally:
        if isinstance(executor, RayUploads):
            executor.close()


class StopFlag:
    """Set by SIGTERM or SIGINT: the publisher finishes the pass in hand and stops."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.event.set())
