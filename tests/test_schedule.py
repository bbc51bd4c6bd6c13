"""The schedule: cron -> OnCalendar, crontab and systemd installs, and the scheduler on a fake clock."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from farm.errors import InputError
from farm.schedule import (
    CommandResult,
    ScheduledTask,
    Scheduler,
    SubprocessLauncher,
    cron_to_oncalendar,
    crontab_block,
    install_schedule,
    merge_crontab,
    next_fire_time,
    parse_cron,
    scheduled_tasks,
    systemd_units,
    uninstall_schedule,
    unit_name,
)

UTC = ZoneInfo("UTC")
ROOT = Path(__file__).resolve().parent.parent


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- cron -> OnCalendar ---------------------------------------------------------------------
# Expected strings checked by hand against systemd.time(7); the second test has systemd itself
# compute the elapse times where systemd-analyze is installed.
ONCALENDAR = [
    ("0 1 * * *", ("*-*-* 01:00:00",)),
    ("*/5 * * * *", ("*-*-* *:00/5:00",)),
    ("30 6 * * *", ("*-*-* 06:30:00",)),
    ("0 4 * * 0", ("Sun *-*-* 04:00:00",)),
    ("0 4 * * 7", ("Sun *-*-* 04:00:00",)),
    ("0 4 * * sun", ("Sun *-*-* 04:00:00",)),
    ("15 9-17/2 * * 1-5", ("Mon..Fri *-*-* 09,11,13,15,17:15:00",)),
    ("0,30 8-18 * * mon-fri", ("Mon..Fri *-*-* 08..18:00,30:00",)),
    ("0 12 * * 6,0", ("Sat,Sun *-*-* 12:00:00",)),
    ("0 0 */2 * *", ("*-*-01/2 00:00:00",)),
    ("0 0 1 */3 *", ("*-01/3-01 00:00:00",)),
    ("5 0 * jan-mar *", ("*-01..03-* 00:05:00",)),
    ("0 */6 * * *", ("*-*-* 00/6:00:00",)),
    ("0 0 * * */2", ("Tue,Thu,Sat,Sun *-*-* 00:00:00",)),
    ("0 0 1,15 * 1", ("*-*-01,15 00:00:00", "Mon *-*-* 00:00:00")),  # cron ORs the two day fields
    ("0 0 */2 * 1", ("Mon *-*-01/2 00:00:00",)),  # a day field starting with * ANDs (cron's own rule)
]


@pytest.mark.parametrize("expr,expected", ONCALENDAR)
def test_cron_to_oncalendar(expr, expected):
    assert cron_to_oncalendar(expr) == expected


def _fires(trigger, after: datetime, n: int) -> list[datetime]:
    """The first ``n`` fire times strictly after ``after`` (as systemd-analyze counts them)."""
    out, t = [], after
    for _ in range(n):
        t = next_fire_time(trigger, after=t)
        out.append(t)
    return out


def _systemd_elapses(calendar: str, base: str, n: int) -> list[datetime]:
    got = subprocess.run(
        ["systemd-analyze", "calendar", f"--iterations={n}", f"--base-time={base} UTC", calendar],
        capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, timeout=30,
    )
    if got.returncode != 0:
        pytest.skip(f"systemd-analyze calendar cannot evaluate here: {got.stderr.strip()[:200]}")
    stamps = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", got.stdout)
    return [at(s) for s in stamps]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (the systemd package)")
@pytest.mark.parametrize("expr", [e for e, _ in ONCALENDAR])
def test_systemd_and_apscheduler_agree_on_the_fire_times(expr):
    """systemd's own calendar evaluation of our OnCalendar= lines gives the fire times
    APScheduler gives for the cron expression (the next 60, across a month boundary)."""
    base, n = "2024-01-28 23:00:00", 60
    from_systemd = sorted({t for cal in cron_to_oncalendar(expr) for t in _systemd_elapses(cal, base, n)})[:n]
    assert len(from_systemd) == n
    assert _fires(parse_cron(expr).trigger(timezone=UTC), at(base), n) == from_systemd


def test_crontab_weekdays_count_from_sunday_unlike_apscheduler_3():
    """APScheduler 3.x reads weekday 0 as Monday (its issue 286); crontab and we read Sunday.
    1 June 2024 was a Saturday."""
    ours = _fires(parse_cron("0 4 * * 0").trigger(timezone=UTC), at("2024-06-01 00:00:00"), 3)
    assert ours == [at("2024-06-02 04:00:00"), at("2024-06-09 04:00:00"), at("2024-06-16 04:00:00")]
    assert all(t.weekday() == 6 for t in ours)  # Python's 6 is Sunday
    naive = CronTrigger.from_crontab("0 4 * * 0", timezone=UTC).get_next_fire_time(None, at("2024-06-01 00:00:00"))
    assert naive == at("2024-06-03 04:00:00")  # a Monday: why the weekday field is handed over as names


def test_both_day_fields_restricted_fire_on_either():
    """cron runs "0 0 1 * 1" on the 1st of the month and on every Monday (June 2024: Sat 1, Mon 3, 10, ...)."""
    fires = _fires(parse_cron("0 0 1 * 1").trigger(timezone=UTC), at("2024-05-31 23:59:00"), 6)
    assert [t.date().isoformat() for t in fires] == [
        "2024-06-01", "2024-06-03", "2024-06-10", "2024-06-17", "2024-06-24", "2024-07-01"]


@pytest.mark.parametrize("expr,why", [
    ("0 25 * * *", "hour 25 is out of range 0-23"),
    ("61 * * * *", "minute 61 is out of range 0-59"),
    ("0 0 * * 8", "day-of-week 8 is out of range 0-7"),
    ("0 0 0 * *", "day-of-month 0 is out of range 1-31"),
    ("* * *", "3 fields"),
    ("0 1 * * * *", "6 fields"),
    ("@daily", "@-shortcuts are not supported"),
    ("*/0 * * * *", "step '0' must be a whole number above 0"),
    ("5/10 * * * *", "a step needs a range or *"),
    ("0 0 20-10 * *", "runs backwards"),
    ("0 0 * foo *", "month 'foo' is not a number"),
    ("0 0 L * *", "day-of-month 'L' is not a number"),
])
def test_bad_cron_expression_is_one_line_naming_the_key(expr, why):
    with pytest.raises(InputError) as err:
        parse_cron(expr, key="nightly")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("schedule.nightly: invalid cron expression ")
    assert repr(expr) in text and why in text


def test_bad_cron_in_farm_toml_fails_the_command_in_one_line(tmp_path, capsys):
    from farm.cli import main
    from farm.workspace import Workspace, init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    (ws.root / "farm.toml").write_text('[schedule]\npublish = "*/5 * * *"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"farm\.toml: schedule\.publish: invalid cron expression '\*/5 \* \* \*'"):
        scheduled_tasks(Workspace(ws.root))
    assert main(["--workspace", str(ws.root), "schedule"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "schedule.publish" in err and "'*/5 * * *'" in err


# -- the tasks and what `farm schedule` prints -----------------------------------------------
def test_tasks_run_the_farm_commands_of_the_workspace(tmp_path):
    from farm.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    (ws.root / "farm.toml").write_text('[schedule]\ncleanup_days = 14\nnightly = "0 2 * * *"\n', encoding="utf-8")
    from farm.workspace import Workspace

    tasks = {t.name: t for t in scheduled_tasks(Workspace(ws.root), farm=("/opt/venv/bin/farm",))}
    head = ("/opt/venv/bin/farm", "--workspace", str(ws.root))
    assert tasks["nightly"].argv == (*head, "nightly") and tasks["nightly"].cron == "0 2 * * *"
    assert tasks["publish"].argv == (*head, "publish", "--once") and tasks["publish"].cron == "*/5 * * * *"
    assert tasks["monitor"].argv == (*head, "monitor", "--once") and tasks["monitor"].cron == "30 6 * * *"
    assert tasks["cleanup"].argv == (*head, "media", "cleanup", "--older-than", "14")
    assert tasks["cleanup"].cron == "0 4 * * 0"


def test_farm_schedule_prints_crontab_lines_and_units(tmp_path, capsys):
    from farm.cli import main
    from farm.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    assert main(["--workspace", str(ws.root), "schedule"]) == 0
    out = capsys.readouterr().out
    for task in ("nightly", "publish", "monitor", "cleanup"):
        assert f"# reel-farm {ws.root} {task}" in out
        assert f"# ==> {unit_name(ws.root, task)}.timer <==" in out
    assert "OnCalendar=Sun *-*-* 04:00:00" in out and "Persistent=true" in out
    assert main(["--workspace", str(ws.root), "schedule", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [t["task"] for t in doc["tasks"]] == ["nightly", "publish", "monitor", "cleanup"]
    assert doc["tasks"][3]["command"][-4:] == ["media", "cleanup", "--older-than", "30"]
    assert doc["tasks"][1]["on_calendar"] == ["*-*-* *:00/5:00"]
    assert len(doc["systemd"]["units"]) == 8


def _tasks(root: Path, **crons: str) -> tuple[ScheduledTask, ...]:
    defaults = {"nightly": "0 1 * * *", "publish": "*/5 * * * *", "monitor": "30 6 * * *", "cleanup": "0 4 * * 0"}
    defaults.update(crons)
    return tuple(ScheduledTask(n, c, ("/venv/bin/farm", "--workspace", str(root), n)) for n, c in defaults.items())


# -- installing: a fake crontab and a fake systemctl -----------------------------------------
class FakeSystem:
    """Answers `crontab` and `systemctl --user` like the real ones, keeping their state here."""

    QUERIES = {("crontab", "-l"), ("systemctl", "show-environment"), ("systemctl", "is-enabled"),
               ("systemctl", "is-active")}

    def __init__(self, *, systemd: bool, crontab: str | None = None, has_crontab: bool = True) -> None:
        self.systemd, self.crontab, self.has_crontab = systemd, crontab, has_crontab
        self.calls: list[tuple[str, ...]] = []
        self.enabled: set[str] = set()
        self.active: set[str] = set()

    def __call__(self, argv, stdin_text=None) -> CommandResult:
        argv = tuple(argv)
        self.calls.append(argv)
        if argv[0] == "crontab":
            if not self.has_crontab:
                return CommandResult(127, "", "crontab: command not found")
            if argv[1] == "-l":
                return CommandResult(0, self.crontab) if self.crontab is not None else \
                    CommandResult(1, "", "no crontab for tester")
            self.crontab = stdin_text
            return CommandResult(0)
        assert argv[:2] == ("systemctl", "--user")
        if not self.systemd:
            return CommandResult(1, "", "Failed to connect to bus: No medium found")
        verb, names = argv[2], [a for a in argv[3:] if not a.startswith("-")]
        if verb == "is-enabled":
            on = names[0] in self.enabled
            return CommandResult(0 if on else 1, "enabled\n" if on else "disabled\n")
        if verb == "is-active":
            return CommandResult(0 if names[0] in self.active else 3)
        if verb == "enable":
            self.enabled.update(names)
            self.active.update(names)
        if verb == "disable":
            self.enabled.difference_update(names)
            self.active.difference_update(names)
        return CommandResult(0)

    def changes(self) -> list[tuple[str, ...]]:
        """The calls that change something (not the questions)."""
        return [c for c in self.calls
                if (c[0], c[1]) not in self.QUERIES and (c[0], c[2] if len(c) > 2 else "") not in self.QUERIES]


USER_CRONTAB = "MAILTO=me@example.com\n# my backup\n0 3 * * * /usr/bin/backup --all\n"


def _env(tmp_path: Path) -> dict:
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}


def test_crontab_install_is_idempotent_and_keeps_the_users_lines(tmp_path):
    root = tmp_path / "ws"
    system = FakeSystem(systemd=False, crontab=USER_CRONTAB)
    report = install_schedule(_tasks(root), root=root, runner=system, environ=_env(tmp_path))
    assert report.method == "crontab" and report.changed
    text = system.crontab
    assert text.startswith(USER_CRONTAB)
    assert text.count(f"# BEGIN reel-farm {root}\n") == 1 and text.count(f"# END reel-farm {root}\n") == 1
    env = f"{root}/.farm/environment"
    assert f"0 4 * * 0 set -a; [ -r {env} ] && . {env}; set +a; /venv/bin/farm --workspace {root} cleanup " \
           f">>{root}/.farm/schedule-cleanup.log 2>&1 # reel-farm {root} cleanup\n" in text

    system.calls.clear()
    again = install_schedule(_tasks(root), root=root, runner=system, environ=_env(tmp_path))
    assert not again.changed and system.crontab == text and system.changes() == []

    # a changed expression replaces the block where it is; another workspace gets its own block
    other = tmp_path / "other ws"
    install_schedule(_tasks(other), root=other, runner=system, environ=_env(tmp_path))
    install_schedule(_tasks(root, nightly="0 2 * * *"), root=root, runner=system, environ=_env(tmp_path))
    assert system.crontab.count("# BEGIN reel-farm") == 2
    assert f"set +a; /venv/bin/farm --workspace {root} nightly >>" in system.crontab
    assert "\n0 2 * * * set -a;" in system.crontab
    assert f"0 1 * * * /venv/bin/farm --workspace {root} nightly" not in system.crontab
    assert "'/venv/bin/farm' --workspace" not in system.crontab and f"'{other}'" in system.crontab  # quoted path

    uninstall_schedule(root=root, runner=system, environ=_env(tmp_path))
    uninstall_schedule(root=other, runner=system, environ=_env(tmp_path))
    assert system.crontab == USER_CRONTAB


def test_crontab_install_for_a_user_without_a_crontab(tmp_path):
    root = tmp_path / "ws"
    system = FakeSystem(systemd=False, crontab=None)
    install_schedule(_tasks(root), root=root, runner=system, environ=_env(tmp_path))
    assert system.crontab == crontab_block(_tasks(root), root=root)
    assert merge_crontab(system.crontab, None, root=root) == ""


def test_crontab_escapes_percent_and_refuses_a_broken_block(tmp_path):
    root = tmp_path / "50%"
    block = crontab_block(_tasks(root), root=root)
    assert "50\\%" in block.splitlines()[2] and "# BEGIN reel-farm " + str(root) in block
    with pytest.raises(InputError, match="without its"):
        merge_crontab(f"# BEGIN reel-farm {root}\n0 1 * * * x\n", block, root=root)


def test_no_systemd_and_no_crontab_is_a_clear_error(tmp_path):
    system = FakeSystem(systemd=False, has_crontab=False)
    with pytest.raises(InputError, match="no systemd user session .* and no crontab command"):
        install_schedule(_tasks(tmp_path), root=tmp_path, runner=system, environ=_env(tmp_path))


def test_systemd_units_written_once_and_enabled_once(tmp_path):
    root = tmp_path / "ws"
    env = _env(tmp_path)
    unit_dir = tmp_path / "xdg" / "systemd" / "user"
    system = FakeSystem(systemd=True, crontab=USER_CRONTAB)
    report = install_schedule(_tasks(root), root=root, runner=system, environ=env)
    assert report.method == "systemd" and report.changed
    timers = sorted(f"{unit_name(root, t)}.timer" for t in ("nightly", "publish", "monitor", "cleanup"))
    assert sorted(p.name for p in unit_dir.glob("*.timer")) == timers
    assert len(list(unit_dir.glob("*.service"))) == 4
    in_order = [f"{unit_name(root, n)}.timer" for n in ("nightly", "publish", "monitor", "cleanup")]
    assert system.changes() == [("systemctl", "--user", "daemon-reload"),
                                *[("systemctl", "--user", "enable", "--now", t) for t in in_order]]
    assert system.enabled == set(timers) and system.crontab == USER_CRONTAB  # the user's crontab untouched
    cleanup = (unit_dir / f"{unit_name(root, 'cleanup')}.timer").read_text()
    assert "OnCalendar=Sun *-*-* 04:00:00\nPersistent=true\n" in cleanup
    service = (unit_dir / f"{unit_name(root, 'nightly')}.service").read_text()
    assert (f"Type=oneshot\nEnvironmentFile=-{root}/.farm/environment\n"
            f"ExecStart=/venv/bin/farm --workspace {root} nightly\n") in service

    stamps = {p.name: p.stat().st_mtime_ns for p in unit_dir.iterdir()}
    system.calls.clear()
    again = install_schedule(_tasks(root), root=root, runner=system, environ=env)
    assert not again.changed and system.changes() == []
    assert {p.name: p.stat().st_mtime_ns for p in unit_dir.iterdir()} == stamps

    # a new expression: that timer is rewritten, systemd reloaded and the timer restarted
    system.calls.clear()
    changed = install_schedule(_tasks(root, monitor="0 7 * * *"), root=root, runner=system, environ=env)
    monitor = f"{unit_name(root, 'monitor')}.timer"
    assert changed.files == (str(unit_dir / monitor),)
    assert system.changes() == [("systemctl", "--user", "daemon-reload"), ("systemctl", "--user", "restart", monitor)]

    # a second workspace does not collide; uninstall removes only this one's units
    install_schedule(_tasks(tmp_path / "b"), root=tmp_path / "b", runner=system, environ=env)
    assert len(list(unit_dir.iterdir())) == 16
    uninstall_schedule(root=root, runner=system, environ=env)
    assert len(list(unit_dir.iterdir())) == 8 and not any(unit_dir.glob(f"*{unit_name(root, 'nightly')}*"))
    assert monitor not in system.enabled


def test_systemd_install_takes_over_from_an_earlier_crontab_install(tmp_path):
    root = tmp_path / "ws"
    system = FakeSystem(systemd=False, crontab=USER_CRONTAB)
    install_schedule(_tasks(root), root=root, runner=system, environ=_env(tmp_path))
    system.systemd = True
    report = install_schedule(_tasks(root), root=root, runner=system, environ=_env(tmp_path))
    assert report.method == "systemd" and system.crontab == USER_CRONTAB  # never both: it would run twice


def test_the_or_of_the_day_fields_becomes_two_oncalendar_lines(tmp_path):
    units = systemd_units(_tasks(tmp_path, cleanup="0 3 1 * sun"), root=tmp_path)
    timer = units[f"{unit_name(tmp_path, 'cleanup')}.timer"]
    assert "OnCalendar=*-*-01 03:00:00\nOnCalendar=Sun *-*-* 03:00:00\n" in timer
    assert "OR" in timer  # the reason is written next to it


# -- the scheduler on a fake clock -----------------------------------------------------------
class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.t = start
        self.hooks: list = []  # (when, callable): called once the clock reaches `when`

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.t += timedelta(seconds=seconds)
        for hook in [h for h in self.hooks if self.t >= h[0]]:
            self.hooks.remove(hook)
            hook[1]()


class FakeProcess:
    def __init__(self, clock: FakeClock, duration_s: float, rc: int = 0, stderr: str | None = None,
                 ignores_sigterm: bool = False) -> None:
        self.clock, self.ends, self.rc, self.stderr = clock, clock.t + timedelta(seconds=duration_s), rc, stderr
        self.ignores_sigterm = ignores_sigterm
        self.signals: list[str] = []

    def poll(self):
        if "kill" in self.signals:
            return -9
        if "term" in self.signals and not self.ignores_sigterm:
            return -15
        return self.rc if self.clock.t >= self.ends else None

    def terminate(self):
        self.signals.append("term")

    def kill(self):
        self.signals.append("kill")

    def stderr_tail(self):
        return self.stderr


class FakeLauncher:
    """Starts fake runs whose length and exit come from ``plan(task name, start time)``."""

    def __init__(self, clock: FakeClock, plan) -> None:
        self.clock, self.plan = clock, plan
        self.started: list[tuple[str, datetime, FakeProcess]] = []

    def __call__(self, task):
        for name, _, proc in self.started:  # never two runs of one task at once
            assert not (name == task.name and proc.poll() is None), f"{task.name} started while still running"
        proc = FakeProcess(self.clock, *self.plan(task.name, self.clock.t))
        self.started.append((task.name, self.clock.t, proc))
        return proc

    def times(self, name: str) -> list[datetime]:
        return [t for n, t, _ in self.started if n == name]


def _scheduler(tasks, clock, launcher, *, catalog=None, **kw) -> Scheduler:
    lines: list[str] = []
    sched = Scheduler(tasks, launcher=launcher, catalog=catalog, now=clock.now, sleep=clock.sleep, timezone=UTC,
                      poll_s=5, on_run=lambda r: lines.append(r.line()), **kw)
    sched.lines = lines
    return sched


def test_scheduler_runs_two_simulated_days_on_time_without_overlap(tmp_path):
    start = at("2024-06-01 00:00:00")  # a Saturday
    clock = FakeClock(start)

    def plan(name, t):
        if name == "publish" and t == at("2024-06-01 10:00:00"):
            return (12 * 60,)  # still running at 10:05 and 10:10
        if name == "nightly":
            return (40 * 60,)
        if name == "monitor" and t.day == 2:
            return (60, 1, "farm: error: boom")
        return (60,)

    launcher = FakeLauncher(clock, plan)
    sched = _scheduler(_tasks(tmp_path), clock, launcher)
    clock.hooks.append((at("2024-06-03 00:00:00"), sched.stop))
    t0 = time.monotonic()
    assert sched.run() == 0
    assert time.monotonic() - t0 < 20  # two days, simulated

    every_5_min = [start + timedelta(minutes=5 * k) for k in range(2 * 24 * 12)]
    skipped = [at("2024-06-01 10:05:00"), at("2024-06-01 10:10:00")]
    assert launcher.times("publish") == [t for t in every_5_min if t not in skipped]
    assert launcher.times("nightly") == [at("2024-06-01 01:00:00"), at("2024-06-02 01:00:00")]
    assert launcher.times("monitor") == [at("2024-06-01 06:30:00"), at("2024-06-02 06:30:00")]
    assert launcher.times("cleanup") == [at("2024-06-02 04:00:00")]

    records = list(sched.records)
    assert [(r.scheduled_for, r.outcome) for r in records if r.outcome == "skipped"] == \
        [(t, "skipped") for t in skipped]
    assert all("10:00:00 was still running" in r.detail for r in records if r.outcome == "skipped")
    monitor = [r for r in records if r.task == "monitor"]
    assert [(r.outcome, r.exit_code, r.detail) for r in monitor] == [
        ("ok", 0, None), ("failed", 1, "farm: error: boom")]
    assert len(records) == len(launcher.started) + 2 and all(r.outcome in ("ok", "failed", "skipped") for r in records)
    assert "2024-06-01 01:00:00 nightly ok (exit 0; 2400.0 s; scheduled 2024-06-01 01:00)" in sched.lines
    assert len(sched.lines) == len(records)


def test_stop_waits_for_a_run_then_terminates_it_and_starts_nothing_new(tmp_path):
    clock = FakeClock(at("2024-06-01 00:58:00"))
    launcher = FakeLauncher(clock, lambda name, t: (3 * 3600,) if name == "nightly" else (10,))
    sched = _scheduler(_tasks(tmp_path), clock, launcher, grace_s=20, kill_after_s=5)
    clock.hooks.append((at("2024-06-01 01:10:02"), sched.stop))  # SIGTERM at 01:10:02
    assert sched.run() == 0
    nightly = [r for r in sched.records if r.task == "nightly"]
    assert [(r.outcome, r.exit_code) for r in nightly] == [("killed", -15)]
    assert nightly[0].finished_at - at("2024-06-01 01:10:02") <= timedelta(seconds=25)
    assert nightly[0].detail.startswith("stopped when the scheduler shut down")
    assert max(t for _, t, _ in launcher.started) == at("2024-06-01 01:10:00")  # nothing after the stop
    assert sched.running() == ()


def test_stop_lets_a_run_that_ends_within_the_grace_period_finish(tmp_path):
    clock = FakeClock(at("2024-06-01 00:59:00"))
    launcher = FakeLauncher(clock, lambda name, t: (65,) if name == "nightly" else (1,))
    sched = _scheduler(_tasks(tmp_path), clock, launcher, grace_s=30)
    clock.hooks.append((at("2024-06-01 01:00:50"), sched.stop))
    assert sched.run() == 0
    assert [(r.outcome, r.exit_code) for r in sched.records if r.task == "nightly"] == [("ok", 0)]


def test_a_run_that_ignores_sigterm_is_killed(tmp_path):
    clock = FakeClock(at("2024-06-01 00:59:00"))

    def plan(name, t):
        return (3600, 0, None, True) if name == "nightly" else (1,)

    launcher = FakeLauncher(clock, plan)
    sched = _scheduler(_tasks(tmp_path), clock, launcher, grace_s=10, kill_after_s=5)
    clock.hooks.append((at("2024-06-01 01:01:00"), sched.stop))
    assert sched.run() == 0
    proc = next(p for n, _, p in launcher.started if n == "nightly")
    assert proc.signals == ["term", "kill"]
    assert [(r.outcome, r.exit_code) for r in sched.records if r.task == "nightly"] == [("killed", -9)]


def _rows(ws) -> list[tuple]:
    with ws.catalog.read() as con:
        rows = con.execute("SELECT task, scheduled_for, started_at, outcome, exit_code FROM schedule_runs "
                           "ORDER BY id").fetchall()
    return [(task, sched, started, outcome, code) for task, sched, started, outcome, code in rows]


def _naive(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_missed_runs_are_caught_up_once_from_the_catalog(tmp_path):
    from farm.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    tasks = (ScheduledTask("nightly", "0 1 * * *", ("x",)), ScheduledTask("publish", "0 * * * *", ("x",)))

    def session(start: str, stop: str) -> Scheduler:
        clock = FakeClock(at(start))
        sched = _scheduler(tasks, clock, FakeLauncher(clock, lambda n, t: (600 if n == "nightly" else 60,)),
                           catalog=ws.catalog)
        clock.hooks.append((at(stop), sched.stop))
        assert sched.run() == 0
        return sched

    session("2024-06-01 00:30:00", "2024-06-01 02:30:00")
    assert _rows(ws) == [
        ("nightly", _naive("2024-06-01 01:00:00"), _naive("2024-06-01 01:00:00"), "ok", 0),
        ("publish", _naive("2024-06-01 01:00:00"), _naive("2024-06-01 01:00:00"), "ok", 0),
        ("publish", _naive("2024-06-01 02:00:00"), _naive("2024-06-01 02:00:00"), "ok", 0),
    ]
    # down for two and a half days: two nightly and 58 hourly fire times missed
    second = session("2024-06-03 12:00:30", "2024-06-03 14:30:00")
    assert _rows(ws)[3:] == [
        ("nightly", _naive("2024-06-03 01:00:00"), _naive("2024-06-03 12:00:30"), "ok", 0),
        ("publish", _naive("2024-06-03 12:00:00"), _naive("2024-06-03 12:00:30"), "ok", 0),
        ("publish", _naive("2024-06-03 13:00:00"), _naive("2024-06-03 13:00:00"), "ok", 0),
        ("publish", _naive("2024-06-03 14:00:00"), _naive("2024-06-03 14:00:00"), "ok", 0),
    ]
    assert [r.caught_up for r in second.records] == [True, True, False, False]
    assert "2024-06-03 12:00:30 nightly ok (exit 0; 600.0 s; scheduled 2024-06-03 01:00, caught up)" in second.lines
    # started again at once: nothing was missed, nothing runs twice
    session("2024-06-03 14:30:00", "2024-06-03 14:59:00")
    assert len(_rows(ws)) == 7
    with ws.catalog.read() as con:
        finished = con.execute("SELECT count(*) FROM schedule_runs WHERE finished_at IS NULL").fetchone()[0]
    assert finished == 0


def test_a_run_left_running_by_a_dead_scheduler_is_closed_as_killed(tmp_path):
    from farm.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    tasks = (ScheduledTask("nightly", "0 1 * * *", ("x",)),)
    clock = FakeClock(at("2024-06-01 01:00:00"))
    dead = _scheduler(tasks, clock, FakeLauncher(clock, lambda n, t: (3600,)), catalog=ws.catalog)
    dead.start()
    dead.tick()  # started nightly, then "died"
    assert [r[3] for r in _rows(ws)] == ["running"]
    clock.t = at("2024-06-01 09:00:00")
    sched = _scheduler(tasks, clock, FakeLauncher(clock, lambda n, t: (1,)), catalog=ws.catalog)
    sched.start()
    with ws.catalog.read() as con:
        outcome, detail = con.execute("SELECT outcome, detail FROM schedule_runs").fetchone()
    assert outcome == "killed" and "scheduler stopped before this run finished" in detail
    assert sched.next_fire_times() == {"nightly": at("2024-06-02 01:00:00")}  # the 01:00 run is not repeated


def test_a_command_that_cannot_start_is_a_failed_run(tmp_path):
    clock = FakeClock(at("2024-06-01 00:59:59"))

    def launcher(task):
        raise FileNotFoundError(2, "No such file or directory", task.argv[0])

    sched = _scheduler((ScheduledTask("nightly", "0 1 * * *", ("/nowhere/farm",)),), clock, launcher)
    clock.hooks.append((at("2024-06-01 01:00:10"), sched.stop))
    assert sched.run() == 0
    (record,) = sched.records
    assert record.outcome == "failed" and "could not start /nowhere/farm" in record.detail


# -- real processes ------------------------------------------------------------------------
def test_subprocess_launcher_keeps_the_last_stderr_line(tmp_path):
    code = ("import sys; print('working'); print('step 1', file=sys.stderr); "
            "print('farm: error: broke', file=sys.stderr); sys.exit(3)")
    proc = SubprocessLauncher(log_dir=tmp_path)(ScheduledTask("monitor", "* * * * *", (sys.executable, "-c", code)))
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() == 3 and proc.stderr_tail() == "farm: error: broke"
    assert (tmp_path / "schedule-monitor.log").read_text() == "working\n"

    sleeper = SubprocessLauncher(log_dir=tmp_path)(
        ScheduledTask("nightly", "* * * * *", (sys.executable, "-c", "import time; time.sleep(60)")))
    sleeper.terminate()
    deadline = time.monotonic() + 30
    while sleeper.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sleeper.poll() == -signal.SIGTERM


def test_farm_scheduler_exits_0_on_sigterm_and_is_alone_on_its_workspace(tmp_path):
    from farm.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    argv = [sys.executable, "-m", "farm", "--workspace", str(ws.root), "scheduler", "--grace-s", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        banner = proc.stderr.readline()  # written once the signal handlers are in place
        assert banner.startswith("scheduler: 4 task(s)"), banner
        second = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
        assert second.returncode == 75 and "another farm scheduler is running" in second.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cron_and_systemd_start_tasks_through_the_recorded_runner(tmp_path):
    """What cron and systemd start is `farm scheduler --run TASK`: the run is recorded in the catalog,
    and a run that finds the last one still going is recorded as skipped."""
    from conftest import run_farm
    from farm.schedule import crontab_block, scheduled_tasks, systemd_units, task_lock
    from farm.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    tasks = scheduled_tasks(ws)
    assert all(t.start_argv[-3:] == ("scheduler", "--run", t.name) for t in tasks)
    assert "scheduler --run cleanup >>" in crontab_block(tasks, root=ws.root)
    assert any("scheduler --run nightly\n" in text for text in systemd_units(tasks, root=ws.root).values())
    done = run_farm("--workspace", str(ws.root), "scheduler", "--run", "cleanup")
    assert done.returncode == 0, done.stderr
    with task_lock(ws, "cleanup").acquire():
        busy = run_farm("--workspace", str(ws.root), "scheduler", "--run", "cleanup")
    assert busy.returncode == 0 and "skipped" in busy.stderr
    bad = run_farm("--workspace", str(ws.root), "scheduler", "--run", "dance")
    assert bad.returncode == 2
    with ws.catalog.read() as con:
        rows = con.execute("SELECT task, outcome, exit_code, scheduled_for IS NOT NULL FROM schedule_runs "
                           "ORDER BY id").fetchall()
    assert rows == [("cleanup", "ok", 0, True), ("cleanup", "skipped", None, True)]
