"""Watching the farm: published videos' statistics, account health, alerts and their webhook."""

from farm.monitor._alerts import Condition, conditions, deliver_webhooks, sync_alerts
from farm.monitor._health import Health, account_health
from farm.monitor._run import monitor_once
from farm.monitor._stats import StatsRun, collect_stats, engagement_rate

__all__ = [
    "Condition", "conditions", "deliver_webhooks", "sync_alerts",
    "Health", "account_health",
    "monitor_once",
    "StatsRun", "collect_stats", "engagement_rate",
]
