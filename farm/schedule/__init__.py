"""The schedule that runs the farm unattended: cron expressions from ``[schedule]``, the
crontab lines and systemd timers that carry them out, and ``farm scheduler``'s own loop.

Public names; the modules behind them are private.
"""

from __future__ import annotations

from farm.cron import (
    CRON_FIELDS,
    CronExpr,
    cron_to_oncalendar,
    latest_fire_time,
    next_fire_time,
    parse_cron,
)
from farm.schedule._install import (
    METHODS,
    CommandResult,
    InstallReport,
    Method,
    Runner,
    crontab_block,
    install_schedule,
    merge_crontab,
    run_command,
    systemd_unit_dir,
    systemd_units,
    task_log,
    uninstall_schedule,
    unit_name,
    workspace_tag,
)
from farm.schedule._once import run_task_once, task_lock
from farm.schedule._scheduler import (
    Launcher,
    Process,
    RunRecord,
    Scheduler,
    SubprocessLauncher,
    run_scheduler,
)
from farm.schedule._tasks import (
    TASK_NAMES,
    ScheduledTask,
    TaskName,
    farm_command,
    scheduled_tasks,
    task_argv,
)

__all__ = [
    "CRON_FIELDS", "CronExpr", "cron_to_oncalendar", "latest_fire_time", "next_fire_time", "parse_cron",
    "METHODS", "CommandResult", "InstallReport", "Method", "Runner", "crontab_block", "install_schedule",
    "merge_crontab", "run_command", "systemd_unit_dir", "systemd_units", "task_log", "uninstall_schedule",
    "unit_name", "workspace_tag",
    "run_task_once", "task_lock",
    "Launcher", "Process", "RunRecord", "Scheduler", "SubprocessLauncher", "run_scheduler",
    "TASK_NAMES", "ScheduledTask", "TaskName", "farm_command", "scheduled_tasks",
    "task_argv",
]
