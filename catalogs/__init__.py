"""DuckDB schema and typed access to the farm's catalogs (media, products, jobs, accounts, uploads, logs).

``catalogs/`` knows nothing about video: it stores and queries rows. One DuckDB file per
workspace (``farm.duckdb``); metric history is Parquet partitioned by date.

Names load on first use (PEP 562): the schema constants import without DuckDB, so code that
only needs them (settings, a GPU check on a machine with no DuckDB) does not pull it in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "ai_cache_get": "catalogs._ai",
    "ai_cache_put": "catalogs._ai",
    "ai_cache_stats": "catalogs._ai",
    "DEFAULT_WAIT_S": "catalogs._connect",
    "Catalog": "catalogs._connect",
    "rows_as_dicts": "catalogs._connect",
    "utcnow": "catalogs._connect",
    "JOB_LIST_COLUMNS": "catalogs._jobs",
    "TRANSITIONS": "catalogs._jobs",
    "IllegalTransition": "catalogs._jobs",
    "get_job": "catalogs._jobs",
    "insert_job": "catalogs._jobs",
    "job_inputs": "catalogs._jobs",
    "list_jobs": "catalogs._jobs",
    "count_jobs": "catalogs._jobs",
    "move": "catalogs._jobs",
    "next_job_id": "catalogs._jobs",
    "next_pending": "catalogs._jobs",
    "queue_stats": "catalogs._jobs",
    "recent_pairs": "catalogs._jobs",
    "set_job_text": "catalogs._jobs",
    "set_job_output": "catalogs._jobs",
    "unfinished_batch": "catalogs._jobs",
    "job_log": "catalogs._log",
    "log_stage": "catalogs._log",
    "log_stages": "catalogs._log",
    "stage_seconds": "catalogs._log",
    "PUBLISHABLE_LICENSES": "catalogs._media",
    "audio_moods": "catalogs._media",
    "cleanup_candidates": "catalogs._media",
    "delete_media": "catalogs._media",
    "get_media": "catalogs._media",
    "insert_media": "catalogs._media",
    "jobs_using": "catalogs._media",
    "list_media": "catalogs._media",
    "mark_used": "catalogs._media",
    "media_by_sha": "catalogs._media",
    "pick_media": "catalogs._media",
    "update_media": "catalogs._media",
    "ACCOUNT_PUBLIC_COLUMNS": "catalogs._publishing",
    "count_account_error": "catalogs._publishing",
    "delete_failed_uploads": "catalogs._publishing",
    "drop_assigned_uploads": "catalogs._publishing",
    "due_job_ids": "catalogs._publishing",
    "insert_account": "catalogs._publishing",
    "list_accounts": "catalogs._publishing",
    "find_account": "catalogs._publishing",
    "account_tokens": "catalogs._publishing",
    "all_token_blobs": "catalogs._publishing",
    "update_account": "catalogs._publishing",
    "delete_account": "catalogs._publishing",
    "get_upload": "catalogs._publishing",
    "insert_upload": "catalogs._publishing",
    "update_upload": "catalogs._publishing",
    "delete_upload": "catalogs._publishing",
    "list_uploads": "catalogs._publishing",
    "account_posts_since": "catalogs._publishing",
    "account_last_post": "catalogs._publishing",
    "record_call": "catalogs._publishing",
    "count_calls": "catalogs._publishing",
    "pending_uploads": "catalogs._publishing",
    "retired_metrics": "catalogs._publishing",
    "retire_metric": "catalogs._publishing",
    "add_hold": "catalogs._publishing",
    "active_holds": "catalogs._publishing",
    "job_is_original": "catalogs._publishing",
    "account_post_mix": "catalogs._publishing",
    "job_plan_facts": "catalogs._publishing",
    "published_uploads": "catalogs._monitor",
    "upload_failures": "catalogs._monitor",
    "forced_private": "catalogs._monitor",
    "post_times": "catalogs._monitor",
    "daily_engagement": "catalogs._monitor",
    "insert_health": "catalogs._monitor",
    "latest_health": "catalogs._monitor",
    "nightly_batches": "catalogs._monitor",
    "open_alerts": "catalogs._monitor",
    "recent_alerts": "catalogs._monitor",
    "insert_alert": "catalogs._monitor",
    "update_alert": "catalogs._monitor",
    "pending_webhooks": "catalogs._monitor",
    "report_rendered_per_day": "catalogs._report",
    "report_render_speed": "catalogs._report",
    "report_queue_states": "catalogs._report",
    "report_failures": "catalogs._report",
    "report_uploads_per_day": "catalogs._report",
    "report_accounts": "catalogs._report",
    "report_health_history": "catalogs._report",
    "report_ai_per_day": "catalogs._report",
    "report_open_alerts": "catalogs._report",
    "report_counts": "catalogs._report",
    "report_views_per_day": "catalogs._report",
    "report_views_total": "catalogs._report",
    "SCHEDULE_OUTCOMES": "catalogs._schedule",
    "insert_schedule_run": "catalogs._schedule",
    "finish_schedule_run": "catalogs._schedule",
    "close_unfinished_schedule_runs": "catalogs._schedule",
    "last_schedule_runs": "catalogs._schedule",
    "list_schedule_runs": "catalogs._schedule",
    "PRODUCT_COLUMNS": "catalogs._products",
    "get_product": "catalogs._products",
    "insert_product": "catalogs._products",
    "list_products": "catalogs._products",
    "mark_promoted": "catalogs._products",
    "product_by_definition": "catalogs._products",
    "products_using": "catalogs._products",
    "METRIC_SETS": "catalogs._metrics",
    "append_metrics": "catalogs._metrics",
    "create_metric_views": "catalogs._metrics",
    "read_only_query": "catalogs._metrics",
    "UPLOAD_STATES": "catalogs._schema",
    "UPLOAD_DONE": "catalogs._schema",
    "JOB_KINDS": "catalogs._schema",
    "JOB_STATES": "catalogs._schema",
    "LANGUAGES": "catalogs._schema",
    "LICENSES": "catalogs._schema",
    "MEDIA_KINDS": "catalogs._schema",
    "MIGRATIONS": "catalogs._schema",
    "SCHEMA_VERSION": "catalogs._schema",
    "COMMISSION_STATUSES": "catalogs._schema",
    "AFFILIATE_NETWORKS": "catalogs._schema",
    "sql_list": "catalogs._schema",
}

__all__ = [
    "ai_cache_get", "ai_cache_put", "ai_cache_stats",
    "DEFAULT_WAIT_S", "Catalog", "rows_as_dicts", "utcnow",
    "JOB_LIST_COLUMNS", "TRANSITIONS", "IllegalTransition", "get_job", "insert_job", "job_inputs", "list_jobs",
    "move", "next_job_id", "next_pending", "queue_stats", "recent_pairs", "set_job_text", "unfinished_batch",
    "job_log", "log_stage", "log_stages", "stage_seconds",
    "PUBLISHABLE_LICENSES", "audio_moods", "cleanup_candidates", "delete_media", "get_media", "insert_media", "jobs_using",
    "list_media", "mark_used", "media_by_sha", "pick_media", "update_media",
    "PRODUCT_COLUMNS", "get_product", "insert_product", "list_products", "mark_promoted", "product_by_definition",
    "products_using",
    "ACCOUNT_PUBLIC_COLUMNS", "count_account_error", "delete_failed_uploads", "drop_assigned_uploads", "due_job_ids", "insert_account", "list_accounts", "find_account", "account_tokens", "all_token_blobs", "update_account", "delete_account", "get_upload", "insert_upload", "update_upload", "delete_upload", "list_uploads", "account_posts_since", "account_last_post", "record_call", "count_calls", "add_hold", "active_holds", "job_is_original", "account_post_mix", "job_plan_facts", "pending_uploads", "retired_metrics", "retire_metric", "UPLOAD_STATES", "UPLOAD_DONE",
    "published_uploads", "upload_failures", "forced_private", "post_times", "daily_engagement", "insert_health", "latest_health", "nightly_batches", "open_alerts", "recent_alerts", "insert_alert", "update_alert", "pending_webhooks",
    "report_rendered_per_day", "report_render_speed", "report_queue_states", "report_failures", "report_uploads_per_day", "report_accounts", "report_health_history", "report_ai_per_day", "report_open_alerts", "report_counts", "report_views_per_day", "report_views_total",
    "SCHEDULE_OUTCOMES", "insert_schedule_run", "finish_schedule_run", "close_unfinished_schedule_runs", "last_schedule_runs", "list_schedule_runs",
    "METRIC_SETS", "append_metrics", "create_metric_views", "read_only_query",
    "JOB_KINDS", "JOB_STATES", "LANGUAGES", "LICENSES", "MEDIA_KINDS", "MIGRATIONS", "SCHEMA_VERSION", "sql_list",
]

if TYPE_CHECKING:
    from catalogs._ai import ai_cache_get, ai_cache_put, ai_cache_stats
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
        set_job_text,
        unfinished_batch,
    )
    from catalogs._log import job_log, log_stage, log_stages, stage_seconds
    from catalogs._media import (
        PUBLISHABLE_LICENSES,
        audio_moods,
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
    from catalogs._monitor import (
        daily_engagement,
        post_times,
        forced_private,
        insert_alert,
        insert_health,
        latest_health,
        nightly_batches,
        open_alerts,
        pending_webhooks,
        published_uploads,
        recent_alerts,
        update_alert,
        upload_failures,
    )
    from catalogs._metrics import METRIC_SETS, append_metrics, create_metric_views, read_only_query
    from catalogs._products import (
        PRODUCT_COLUMNS,
        get_product,
        insert_product,
        list_products,
        mark_promoted,
        product_by_definition,
        products_using,
    )
    from catalogs._publishing import (
        count_account_error,
        delete_failed_uploads,
        drop_assigned_uploads,
        due_job_ids,
        ACCOUNT_PUBLIC_COLUMNS,
        account_last_post,
        account_post_mix,
        account_posts_since,
        account_tokens,
        active_holds,
        add_hold,
        all_token_blobs,
        count_calls,
        delete_account,
        delete_upload,
        find_account,
        get_upload,
        insert_account,
        insert_upload,
        job_is_original,
        job_plan_facts,
        list_accounts,
        list_uploads,
        pending_uploads,
        record_call,
        retire_metric,
        retired_metrics,
        update_account,
        update_upload,
    )
    from catalogs._report import (
        report_accounts,
        report_ai_per_day,
        report_counts,
        report_failures,
        report_health_history,
        report_open_alerts,
        report_queue_states,
        report_render_speed,
        report_rendered_per_day,
        report_uploads_per_day,
        report_views_per_day,
        report_views_total,
    )
    from catalogs._schedule import (
        SCHEDULE_OUTCOMES,
        close_unfinished_schedule_runs,
        finish_schedule_run,
        insert_schedule_run,
        last_schedule_runs,
        list_schedule_runs,
    )
    from catalogs._schema import (
        UPLOAD_STATES,
        UPLOAD_DONE,

        JOB_KINDS,
        JOB_STATES,
        LANGUAGES,
        LICENSES,
        MEDIA_KINDS,
        MIGRATIONS,
        SCHEMA_VERSION,
        sql_list,
    )


# Modules whose public names are their own ``__all__``, looked up when a name is not in _WHERE.
_MODULES_WITH_ALL = ("catalogs._revenue", "catalogs._links", "catalogs._planner")


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        for candidate in _MODULES_WITH_ALL:
            mod = importlib.import_module(candidate)
            if name in getattr(mod, "__all__", ()):
                module = candidate
                break
        else:
            raise AttributeError(f"module 'catalogs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
