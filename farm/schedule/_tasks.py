"""The farm's scheduled tasks: which command each runs and on which cron expression (``[schedule]``)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from farm.cron import CronExpr
from farm.errors import InputError

if TYPE_CHECKING:
    from farm.workspace import Workspace

TaskName = Literal["nightly", "publish", "monitor", "cleanup"]
TASK_NAMES: tuple[TaskName, ...] = ("nightly", "publish", "monitor", "cleanup")


def farm_command() -> tuple[str, ...]:
    """How to start this farm from a crontab or a unit: the ``farm`` script installed next
    to this interpreter (a venv's ``bin/``), else ``python -m farm`` with this interpreter.

    The interpreter's path is not resolved: a venv's ``python`` is a link, and following it
    would leave the venv.
    """
    exe = Path(sys.executable).absolute()
    script = exe.parent / "farm"
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script),)
    return (str(exe), "-m", "farm")


def task_argv(name: TaskName, *, root: Path, farm: tuple[str, ...], cleanup_days: float) -> tuple[str, ...]:
    """The command line of task ``name`` for the workspace at ``root``."""
    head = (*farm, "--workspace", str(root))
    if name == "nightly":
        return (*head, "nightly")
    if name == "publish":
        return (*head, "publish", "--once")
    if name == "monitor":
        return (*head, "monitor", "--once")
    if name == "cleanup":
        return (*head, "media", "cleanup", "--older-than", f"{cleanup_days:g}")
    raise InputError(f"Invalid task ({name!r}). Supported: {', '.join(TASK_NAMES)}.")


@dataclass(frozen=True)
class ScheduledTask:
    """One task: its name, its crontab expression and the command it runs.

    Example::

        ScheduledTask("nightly", "0 1 * * *", ("farm", "--workspace", "/ws", "nightly"))
    """

    name: TaskName
    cron: str
    argv: tuple[str, ...]
    start_argv: tuple[str, ...] = ()
    """What cron and systemd start: ``farm scheduler --run NAME``, which runs ``argv`` and records the
    run in the catalog (empty: ``argv`` itself)."""

    def __post_init__(self) -> None:
        if self.name not in TASK_NAMES:
            raise InputError(f"Invalid task ({self.name!r}). Supported: {', '.join(TASK_NAMES)}.")
        if not self.argv:
            raise InputError(f"task {self.name}: empty command")
        object.__setattr__(self, "argv", tuple(str(a) for a in self.argv))
        object.__setattr__(self, "start_argv", tuple(str(a) for a in self.start_argv) or self.argv)
        object.__setattr__(self, "cron", CronExpr.parse(self.cron, key=self.name).expr)

    @property
    def cron_expr(self) -> CronExpr:
        return CronExpr.parse(self.cron, key=self.name)

    def as_dict(self) -> dict:
        return {"task": self.name, "cron": self.cron, "command": list(self.argv), "started_as": list(self.start_argv),
                "on_calendar": list(self.cron_expr.on_calendar())}


def scheduled_tasks(ws: Workspace, *, farm: tuple[str, ...] | None = None) -> tuple[ScheduledTask, ...]:
    """The workspace's tasks from its ``[schedule]`` settings, every expression checked."""
    from farm.workspace import CONFIG_NAME

    schedule = ws.settings.schedule
    schedule.check_cron(source=ws.root / CONFIG_NAME)
    farm = farm or farm_command()
    return tuple(
        ScheduledTask(name, getattr(schedule, name),
                      task_argv(name, root=ws.root, farm=farm, cleanup_days=schedule.cleanup_days),
                      (*farm, "--workspace", str(ws.root), "scheduler", "--run", name))
        for name in TASK_NAMES
    )
