"""DuckDB schema and typed access to the farm's catalogs (media, jobs, accounts, uploads, logs).

``catalogs/`` knows nothing about video: it stores and queries rows. One DuckDB file per
workspace (``farm.duckdb``); metric history is Parquet partitioned by date.
"""

from catalogs._connect import DEFAULT_WAIT_S, Catalog, rows_as_dicts, utcnow
from catalogs._jobs import (
    JOB_LIST_COLUMNS,
    TRANSITIONS,
    IllegalTransition,
    get_job,
    insert_job,
    job_inputs,
    list_jobs,
    move,
    next_job_id,
    next_pending,
    queue_stats,
    recent_pairs,
    unfinished_batch,
)
from catalogs._log import job_log, log_stage, log_stages, stage_seconds
from catalogs._media import (
    PUBLISHABLE_LICENSES,
    cleanup_candidates,
    delete_media,
    get_media,
    insert_media,
    jobs_using,
    list_media,
    mark_used,
    media_by_sha,
    pick_media,
    update_media,
)
from catalogs._metrics import METRIC_SETS, append_metrics, create_metric_views, read_only_query
from catalogs._schema import JOB_KINDS, JOB_STATES, LICENSES, MEDIA_KINDS, MIGRATIONS, PLATFORMS, SCHEMA_VERSION, sql_list

__all__ = [
    "DEFAULT_WAIT_S", "Catalog", "rows_as_dicts", "utcnow",
    "JOB_LIST_COLUMNS", "TRANSITIONS", "IllegalTransition", "get_job", "insert_job", "job_inputs", "list_jobs",
    "move", "next_job_id", "next_pending", "queue_stats", "recent_pairs", "unfinished_batch",
    "job_log", "log_stage", "log_stages", "stage_seconds",
    "PUBLISHABLE_LICENSES", "cleanup_candidates", "delete_media", "get_media", "insert_media", "jobs_using",
    "list_media", "mark_used", "media_by_sha", "pick_media", "update_media",
    "METRIC_SETS", "append_metrics", "create_metric_views", "read_only_query",
    "JOB_KINDS", "JOB_STATES", "LICENSES", "MEDIA_KINDS", "MIGRATIONS", "PLATFORMS", "SCHEMA_VERSION", "sql_list",
]
