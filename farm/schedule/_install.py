"""Writing the schedule for the current user: systemd user timers where they run, else a crontab block.

Every outside command goes through a *runner* (``runner(argv, stdin_text=None) ->
CommandResult``), so tests hand in a fake ``crontab``/``systemctl`` and never touch the
real ones. Installing twice changes nothing: files are rewritten only when their text
differs, the crontab only when its text differs, and a timer is enabled only when it is not.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from farm.errors import InputError
from farm.schedule._tasks import ScheduledTask

Method = Literal["auto", "systemd", "crontab"]
METHODS: tuple[Method, ...] = ("auto", "systemd", "crontab")


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


Runner = Callable[..., CommandResult]


def run_command(argv: Sequence[str], stdin_text: str | None = None) -> CommandResult:
    """The real runner: ``argv`` with ``stdin_text`` on its stdin; a missing program is exit 127."""
    try:
        done = subprocess.run(list(argv), input=stdin_text, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return CommandResult(127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return CommandResult(124, "", f"{' '.join(argv)}: timed out after 60 s")
    return CommandResult(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class InstallReport:
    """What an install or uninstall did: ``changed`` is False when everything was already in place."""

    method: str
    changed: bool
    files: tuple[str, ...] = ()
    commands: tuple[tuple[str, ...], ...] = ()
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return {"method": self.method, "changed": self.changed, "files": list(self.files),
                "commands": [list(c) for c in self.commands], "notes": list(self.notes)}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def _check_root(root: Path) -> str:
    text = str(root)
    if "\n" in text or "\r" in text:
        raise InputError(f"{text!r}: a workspace path with a line break cannot go into a crontab or a unit")
    return text


# -- crontab --------------------------------------------------------------------------------
def _begin(root: Path) -> str:
    return f"# BEGIN reel-farm {_check_root(root)}"


def _end(root: Path) -> str:
    return f"# END reel-farm {_check_root(root)}"


def task_log(root: Path, name: str) -> Path:
    """Where a task started by cron (or by ``farm scheduler``) leaves its output."""
    return root / ".farm" / f"schedule-{name}.log"


def environment_file(root: Path) -> Path:
    """``KEY=VALUE`` lines that scheduled runs get in their environment (``FARM_SECRET_KEYS``,
    ``OPENAI_API_KEY``, ``FARM_*``): cron and systemd start tasks without the user's shell."""
    return root / ".farm" / "environment"


def crontab_block(tasks: Sequence[ScheduledTask], *, root: Path) -> str:
    """The workspace's crontab block: one line per task, each ending in ``# reel-farm <root> <task>``."""
    lines = [_begin(root), "# written by `farm schedule --install`; this block is replaced on every install"]
    env = shlex.quote(str(environment_file(root)))
    for t in tasks:
        # the workspace's environment file, when there is one, exported to the task (as systemd's EnvironmentFile=)
        command = f"set -a; [ -r {env} ] && . {env}; set +a; " + " ".join(shlex.quote(a) for a in t.start_argv)
        line = f"{command} >>{shlex.quote(str(task_log(root, t.name)))} 2>&1 # reel-farm {root} {t.name}"
        lines.append(f"{t.cron} " + line.replace("%", "\\%"))  # cron turns a bare % into a newline
    lines.append(_end(root))
    return "\n".join(lines) + "\n"


def merge_crontab(current: str, block: str | None, *, root: Path) -> str:
    """``current`` with the workspace's block replaced by ``block`` (removed when None); every
    other line is kept as it was, and a new block goes at the end."""
    begin, end = _begin(root), _end(root)
    lines = current.splitlines()
    out: list[str] = []
    placed = block is None
    i = 0
    while i < len(lines):
        if lines[i].strip() != begin:
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != end:
            j += 1
        if j == len(lines):
            raise InputError(f"your crontab has {begin!r} without its {end!r} line; fix it with `crontab -e`")
        if not placed:
            out.extend(block.splitlines())
            placed = True
        i = j + 1
    if not placed:
        out.extend(block.splitlines())
    return "\n".join(out) + "\n" if out else ""


def _read_crontab(runner: Runner) -> str | None:
    """The user's crontab ('' when they have none), or None when there is no crontab command."""
    got = runner(["crontab", "-l"])
    if got.returncode == 127:
        return None
    if got.returncode != 0:
        if "no crontab" in (got.stderr or "").lower():
            return ""
        raise InputError(f"crontab -l failed: {_last_line(got.stderr)}")
    return got.stdout


def _write_crontab(runner: Runner, text: str) -> None:
    got = runner(["crontab", "-"], stdin_text=text)
    if got.returncode != 0:
        raise InputError(f"crontab - failed: {_last_line(got.stderr)}")


# -- systemd --------------------------------------------------------------------------------
def workspace_tag(root: Path) -> str:
    """A short hash of the workspace path, so two workspaces' units do not collide."""
    return hashlib.sha256(_check_root(root).encode()).hexdigest()[:8]


def unit_name(root: Path, task: str) -> str:
    """``reel-farm-<task>-<hash of the workspace path>`` (add ``.service`` or ``.timer``)."""
    return f"reel-farm-{task}-{workspace_tag(root)}"


def systemd_unit_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user``, else ``~/.config/systemd/user``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "systemd" / "user"


def _unit_text(text: str) -> str:
    return text.replace("%", "%%")  # systemd expands %-specifiers in most settings


def _exec_word(arg: str) -> str:
    """One ExecStart= word: quoted when it must be, $ and % kept literal."""
    word = arg.replace("\\", "\\\\").replace('"', '\\"')
    if any(c.isspace() for c in arg) or any(c in arg for c in "\"'\\;") or not arg:
        word = f'"{word}"'
    return word.replace("$", "$$").replace("%", "%%")


def systemd_units(tasks: Sequence[ScheduledTask], *, root: Path) -> dict[str, str]:
    """{file name: text} of one oneshot service and one timer per task.

    ``Persistent=true`` makes systemd run a timer once at boot (or when it is enabled) if
    it elapsed while the machine was off; a oneshot service never runs twice at once.
    """
    units: dict[str, str] = {}
    shown = _unit_text(_check_root(root))
    for t in tasks:
        name = unit_name(root, t.name)
        head = (f"# reel-farm {_check_root(root)} {t.name}: written by `farm schedule --install` "
                "(replaced on each install)\n")
        units[f"{name}.service"] = head + (
            "[Unit]\n"
            f"Description=reel farm {t.name} ({shown})\n"
            "\n[Service]\n"
            "Type=oneshot\n"
            f"EnvironmentFile=-{_unit_text(str(environment_file(Path(_check_root(root)))))}\n"
            f"ExecStart={' '.join(_exec_word(a) for a in t.start_argv)}\n"
        )
        calendars = t.cron_expr.on_calendar()
        why = ""
        if len(calendars) > 1:
            why = ("# cron runs this when the day of month OR the weekday matches; one OnCalendar= matches all of "
                   "its fields,\n# so each alternative has its own line (the timer elapses when either does)\n")
        units[f"{name}.timer"] = head + (
            "[Unit]\n"
            f"Description=reel farm {t.name} at cron '{t.cron}' ({shown})\n"
            "\n[Timer]\n"
            + why
            + "".join(f"OnCalendar={c}\n" for c in calendars)
            + "Persistent=true\n"
            "AccuracySec=1s\n"
            f"Unit={name}.service\n"
            "\n[Install]\n"
            "WantedBy=timers.target\n"
        )
    return units


def _systemd_available(runner: Runner) -> bool:
    return runner(["systemctl", "--user", "show-environment"]).returncode == 0


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


def _systemctl(runner: Runner, done: list, *args: str) -> CommandResult:
    argv = ("systemctl", "--user", *args)
    got = runner(list(argv))
    done.append(argv)
    if got.returncode != 0:
        raise InputError(f"{' '.join(argv)} failed: {_last_line(got.stderr)}")
    return got


def _install_systemd(tasks, *, root: Path, runner: Runner, unit_dir: Path) -> InstallReport:
    units = systemd_units(tasks, root=root)
    written = [str(unit_dir / name) for name, text in units.items() if _write_if_changed(unit_dir / name, text)]
    stale = [p for p in unit_dir.glob(f"reel-farm-*-{workspace_tag(root)}.*") if p.name not in units]
    commands: list[tuple[str, ...]] = []
    for path in stale:
        if path.suffix == ".timer":
            runner(["systemctl", "--user", "disable", "--now", path.name])
            commands.append(("systemctl", "--user", "disable", "--now", path.name))
        path.unlink()
    if written or stale:
        _systemctl(runner, commands, "daemon-reload")
    for name in units:
        if not name.endswith(".timer"):
            continue
        enabled = runner(["systemctl", "--user", "is-enabled", name]).stdout.strip() == "enabled"
        active = runner(["systemctl", "--user", "is-active", name]).returncode == 0
        if not enabled or not active:
            _systemctl(runner, commands, "enable", "--now", name)
        elif str(unit_dir / name) in written:
            _systemctl(runner, commands, "restart", name)  # an active timer keeps its old calendar otherwise
    notes = (f"the timers run while you are logged in; `loginctl enable-linger {os.environ.get('USER', '$USER')}` "
             "keeps them running after you log out", "their output: `journalctl --user -u 'reel-farm-*'`")
    return InstallReport("systemd", bool(written or stale or commands), tuple(written), tuple(commands), notes)


def _remove_systemd(*, root: Path, runner: Runner, unit_dir: Path, systemd: bool) -> InstallReport:
    paths = sorted(unit_dir.glob(f"reel-farm-*-{workspace_tag(root)}.*"))
    commands: list[tuple[str, ...]] = []
    for path in paths:
        if systemd and path.suffix == ".timer":
            runner(["systemctl", "--user", "disable", "--now", path.name])
            commands.append(("systemctl", "--user", "disable", "--now", path.name))
    for path in paths:
        path.unlink()
    if paths and systemd:
        _systemctl(runner, commands, "daemon-reload")
    return InstallReport("systemd", bool(paths), tuple(str(p) for p in paths), tuple(commands))


def _install_crontab(tasks, *, root: Path, runner: Runner, current: str) -> InstallReport:
    new = merge_crontab(current, crontab_block(tasks, root=root), root=root)
    if new == current:
        return InstallReport("crontab", False)
    _write_crontab(runner, new)
    return InstallReport("crontab", True, (), (("crontab", "-"),), (f"output goes to {task_log(root, '<task>')}",))


def _remove_crontab(*, root: Path, runner: Runner, current: str) -> InstallReport:
    new = merge_crontab(current, None, root=root)
    if new == current:
        return InstallReport("crontab", False)
    _write_crontab(runner, new)
    return InstallReport("crontab", True, (), (("crontab", "-"),))


def install_schedule(
    tasks: Sequence[ScheduledTask],
    *,
    root: Path,
    via: Method = "auto",
    runner: Runner = run_command,
    environ: Mapping[str, str] | None = None,
) -> InstallReport:
    """Install the tasks for the current user: systemd user timers when ``systemctl --user``
    answers (``via="auto"``), else the crontab; idempotent.

    The other method's entries for this workspace are removed, so a workspace never runs
    twice. Raises :class:`InputError` when the chosen method is not available here.
    """
    if via not in METHODS:
        raise InputError(f"Invalid method ({via!r}). Supported: {', '.join(METHODS)}.")
    root = Path(root)
    unit_dir = systemd_unit_dir(environ)
    systemd = via != "crontab" and _systemd_available(runner)
    if via == "systemd" and not systemd:
        raise InputError("systemctl --user does not answer here (no systemd user session); use --via crontab")
    current = _read_crontab(runner)
    if systemd:
        report = _install_systemd(tasks, root=root, runner=runner, unit_dir=unit_dir)
        if current is not None:
            removed = _remove_crontab(root=root, runner=runner, current=current)
            if removed.changed:
                report = InstallReport("systemd", True, report.files, report.commands + removed.commands,
                                       report.notes + ("removed this workspace's old crontab block",))
        return report
    if current is None:
        raise InputError("cannot install the schedule: no systemd user session (systemctl --user) and no "
                         "crontab command; run `farm scheduler` under a process supervisor instead")
    report = _install_crontab(tasks, root=root, runner=runner, current=current)
    # timers already loaded keep firing until systemd is told: disable them where it runs
    removed = _remove_systemd(root=root, runner=runner, unit_dir=unit_dir, systemd=_systemd_available(runner))
    if removed.changed:
        report = InstallReport("crontab", True, removed.files, report.commands + removed.commands,
                               report.notes + ("removed this workspace's old systemd units",))
    return report


def uninstall_schedule(
    *,
    root: Path,
    runner: Runner = run_command,
    environ: Mapping[str, str] | None = None,
) -> tuple[InstallReport, ...]:
    """Remove the workspace's timers and its crontab block, wherever they are; idempotent."""
    root = Path(root)
    reports = []
    unit_dir = systemd_unit_dir(environ)
    if any(unit_dir.glob(f"reel-farm-*-{workspace_tag(root)}.*")):
        reports.append(_remove_systemd(root=root, runner=runner, unit_dir=unit_dir,
                                       systemd=_systemd_available(runner)))
    else:
        reports.append(InstallReport("systemd", False))
    current = _read_crontab(runner)
    reports.append(_remove_crontab(root=root, runner=runner, current=current) if current is not None
                   else InstallReport("crontab", False))
    return tuple(reports)
