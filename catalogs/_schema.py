"""The catalog schema as an ordered list of migrations; a workspace records the last one applied."""

from __future__ import annotations

MEDIA_KINDS = ("template", "source", "audio", "image")
LICENSES = ("owned", "licensed", "cc-by", "cc0", "public-domain", "unknown")
JOB_KINDS = ("mashup", "promo")
JOB_STATES = ("pending", "rendering", "ready", "publishing", "published", "failed", "cancelled")
UPLOAD_STATES = ("assigned", "started", "uploading", "uploaded", "finishing", "processing", "lost", "published",
                 "inbox", "failed")
UPLOAD_DONE = ("published", "inbox")
LANGUAGES = ("vi", "en")
COMMISSION_STATUSES = ("pending", "completed", "cancelled")
AFFILIATE_NETWORKS = ("shopee", "accesstrade", "other")


def sql_list(values: tuple[str, ...]) -> str:
    """An SQL literal list of ``values``: ``('a', 'b')``, for CHECK constraints."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# Each entry is one release's change; never edit a published entry, append a new one.
# Version 1 is the seed's schema (media library, video queue, accounts, uploads, process log).
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "seed schema: media, jobs, accounts, uploads, process_log",
        f"""
        CREATE TABLE schema_version (version INTEGER NOT NULL, description VARCHAR, applied_at TIMESTAMP NOT NULL);
        CREATE SEQUENCE media_id_seq START 1;
        CREATE TABLE media (
            id BIGINT PRIMARY KEY DEFAULT nextval('media_id_seq'),
            kind VARCHAR NOT NULL CHECK (kind IN {sql_list(MEDIA_KINDS)}),
            path VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL UNIQUE,
            size_bytes BIGINT,
            duration_s DOUBLE,
            width INTEGER,
            height INTEGER,
            fps DOUBLE,
            has_audio BOOLEAN,
            mood VARCHAR,
            category VARCHAR,
            style VARCHAR,
            platform VARCHAR,
            license VARCHAR NOT NULL DEFAULT 'unknown' CHECK (license IN {sql_list(LICENSES)}),
            creator VARCHAR,
            source_url VARCHAR,
            attribution VARCHAR,
            usage_count INTEGER NOT NULL DEFAULT 0,
            last_used_at TIMESTAMP,
            created_at TIMESTAMP NOT NULL
        );
        CREATE SEQUENCE job_id_seq START 1;
        CREATE TABLE jobs (
            id BIGINT PRIMARY KEY DEFAULT nextval('job_id_seq'),
            kind VARCHAR NOT NULL CHECK (kind IN {sql_list(JOB_KINDS)}),
            spec JSON NOT NULL,
            platform VARCHAR,
            state VARCHAR NOT NULL DEFAULT 'pending' CHECK (state IN {sql_list(JOB_STATES)}),
            attempts INTEGER NOT NULL DEFAULT 0,
            error_class VARCHAR,
            error_message VARCHAR,
            output_path VARCHAR,
            output_sha256 VARCHAR,
            created_at TIMESTAMP NOT NULL,
            started_at TIMESTAMP,
            finished_at TIMESTAMP
        );
        CREATE SEQUENCE account_id_seq START 1;
        CREATE TABLE accounts (
            id BIGINT PRIMARY KEY DEFAULT nextval('account_id_seq'),
            platform VARCHAR NOT NULL,
            username VARCHAR NOT NULL,
            token_blob BLOB,
            key_id VARCHAR,
            daily_cap INTEGER NOT NULL DEFAULT 3,
            min_gap_min INTEGER NOT NULL DEFAULT 120,
            window_start VARCHAR,
            window_end VARCHAR,
            active BOOLEAN NOT NULL DEFAULT true,
            error_count INTEGER NOT NULL DEFAULT 0,
            last_posted_at TIMESTAMP,
            health DOUBLE,
            created_at TIMESTAMP NOT NULL,
            UNIQUE (platform, username)
        );
        CREATE TABLE uploads (
            job_id BIGINT NOT NULL,
            account_id BIGINT NOT NULL,
            platform VARCHAR NOT NULL,
            remote_session VARCHAR,
            remote_id VARCHAR,
            remote_url VARCHAR,
            state VARCHAR NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP,
            PRIMARY KEY (job_id, platform)
        );
        CREATE SEQUENCE log_id_seq START 1;
        CREATE TABLE process_log (
            id BIGINT PRIMARY KEY DEFAULT nextval('log_id_seq'),
            job_id BIGINT,
            stage VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            duration_ms DOUBLE,
            detail VARCHAR,
            "at" TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        2,
        "job inputs as rows, render results, worker and batch on jobs, linked media",
        """
        CREATE TABLE job_media (
            job_id BIGINT NOT NULL,
            media_id BIGINT NOT NULL,
            role VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (job_id, role, position)
        );
        ALTER TABLE jobs ADD COLUMN output_size_bytes BIGINT;
        ALTER TABLE jobs ADD COLUMN frames INTEGER;
        ALTER TABLE jobs ADD COLUMN render_fps DOUBLE;
        ALTER TABLE jobs ADD COLUMN encoder VARCHAR;
        ALTER TABLE jobs ADD COLUMN worker VARCHAR;
        ALTER TABLE jobs ADD COLUMN batch_id VARCHAR;
        ALTER TABLE jobs ADD COLUMN updated_at TIMESTAMP;
        ALTER TABLE media ADD COLUMN linked BOOLEAN DEFAULT false;
        """,
    ),
    (
        3,
        "products for promos and their images; the AI answer cache; post metadata, text source and AI tokens on jobs",
        f"""
        CREATE SEQUENCE product_id_seq START 1;
        CREATE TABLE products (
            id BIGINT PRIMARY KEY DEFAULT nextval('product_id_seq'),
            definition_sha256 VARCHAR NOT NULL UNIQUE,
            name VARCHAR NOT NULL,
            price DOUBLE NOT NULL,
            currency VARCHAR NOT NULL,
            selling_points JSON NOT NULL,
            affiliate_url VARCHAR,
            call_to_action VARCHAR,
            language VARCHAR NOT NULL CHECK (language IN {sql_list(LANGUAGES)}),
            platforms JSON NOT NULL,
            mood VARCHAR,
            source VARCHAR,
            times_promoted INTEGER NOT NULL DEFAULT 0,
            last_promoted_at TIMESTAMP,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE product_media (
            product_id BIGINT NOT NULL,
            media_id BIGINT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (product_id, position)
        );
        CREATE TABLE ai_cache (
            request_sha256 VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            answer BLOB NOT NULL,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            created_at TIMESTAMP NOT NULL
        );
        ALTER TABLE jobs ADD COLUMN product_id BIGINT;
        ALTER TABLE jobs ADD COLUMN post_metadata JSON;
        ALTER TABLE jobs ADD COLUMN text_source VARCHAR;
        ALTER TABLE jobs ADD COLUMN text_source_reason VARCHAR;
        ALTER TABLE jobs ADD COLUMN ai_tokens INTEGER DEFAULT 0;
        """,
    ),
    (
        4,
        "publishing: account tokens, privacy and reconnect state; the uploads ledger's sessions; API calls and "
        "platform holds for rate limits and quotas; a job's earliest publish time",
        """
        ALTER TABLE accounts ADD COLUMN page_id VARCHAR;
        ALTER TABLE accounts ADD COLUMN refresh_blob BLOB;
        ALTER TABLE accounts ADD COLUMN token_expires_at TIMESTAMP;
        ALTER TABLE accounts ADD COLUMN refresh_expires_at TIMESTAMP;
        ALTER TABLE accounts ADD COLUMN token_refreshed_at TIMESTAMP;
        ALTER TABLE accounts ADD COLUMN privacy VARCHAR DEFAULT 'public';
        ALTER TABLE accounts ADD COLUMN needs_reconnect BOOLEAN DEFAULT false;
        ALTER TABLE accounts ADD COLUMN reconnect_reason VARCHAR;
        ALTER TABLE accounts ADD COLUMN updated_at TIMESTAMP;
        ALTER TABLE uploads ADD COLUMN marker VARCHAR;
        ALTER TABLE uploads ADD COLUMN size_bytes BIGINT;
        ALTER TABLE uploads ADD COLUMN sent_bytes BIGINT DEFAULT 0;
        ALTER TABLE uploads ADD COLUMN privacy VARCHAR;
        ALTER TABLE uploads ADD COLUMN started_at TIMESTAMP;
        ALTER TABLE uploads ADD COLUMN finish_requested_at TIMESTAMP;
        ALTER TABLE uploads ADD COLUMN published_at TIMESTAMP;
        ALTER TABLE uploads ADD COLUMN not_before TIMESTAMP;
        ALTER TABLE uploads ADD COLUMN error_class VARCHAR;
        ALTER TABLE uploads ADD COLUMN error_message VARCHAR;
        ALTER TABLE jobs ADD COLUMN publish_after TIMESTAMP;
        CREATE TABLE api_calls (platform VARCHAR NOT NULL, account_id BIGINT, kind VARCHAR NOT NULL,
                                "at" TIMESTAMP NOT NULL);
        CREATE TABLE platform_holds (platform VARCHAR NOT NULL, account_id BIGINT, until TIMESTAMP NOT NULL,
                                     reason VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL);
        """,
    ),
    (
        5,
        "watching: scheduled runs and their outcomes, account health history, alerts; the privacy an upload asked for",
        """
        ALTER TABLE uploads ADD COLUMN requested_privacy VARCHAR;
        CREATE SEQUENCE schedule_run_id_seq START 1;
        CREATE TABLE schedule_runs (
            id BIGINT PRIMARY KEY DEFAULT nextval('schedule_run_id_seq'),
            task VARCHAR NOT NULL,
            scheduled_for TIMESTAMP,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            outcome VARCHAR NOT NULL,
            exit_code INTEGER,
            detail VARCHAR
        );
        CREATE TABLE account_health (
            account_id BIGINT NOT NULL,
            "at" TIMESTAMP NOT NULL,
            health DOUBLE NOT NULL,
            components JSON NOT NULL
        );
        CREATE SEQUENCE alert_id_seq START 1;
        CREATE TABLE alerts (
            id BIGINT PRIMARY KEY DEFAULT nextval('alert_id_seq'),
            kind VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            account_id BIGINT,
            message VARCHAR NOT NULL,
            details JSON,
            raised_at TIMESTAMP NOT NULL,
            cleared_at TIMESTAMP,
            webhook_state VARCHAR,
            webhook_attempts INTEGER DEFAULT 0
        );
        """,
    ),
    (
        6,
        "real accounts: interactions an account allows, granted scopes, a scope the platform said is missing, a "
        "token the keys cannot read; what a platform still owes about a published upload; quota holds by bucket; "
        "insights metrics a platform retired",
        """
        ALTER TABLE accounts ADD COLUMN allow_comments BOOLEAN DEFAULT false;
        ALTER TABLE accounts ADD COLUMN allow_duet BOOLEAN DEFAULT false;
        ALTER TABLE accounts ADD COLUMN allow_stitch BOOLEAN DEFAULT false;
        ALTER TABLE accounts ADD COLUMN scopes VARCHAR;
        ALTER TABLE accounts ADD COLUMN missing_scope VARCHAR;
        ALTER TABLE accounts ADD COLUMN key_problem VARCHAR;
        ALTER TABLE accounts ADD COLUMN remote_name VARCHAR;
        ALTER TABLE uploads ADD COLUMN pending VARCHAR;
        ALTER TABLE platform_holds ADD COLUMN bucket VARCHAR DEFAULT 'upload';
        CREATE TABLE retired_metrics (platform VARCHAR NOT NULL, metric VARCHAR NOT NULL, message VARCHAR,
                                      "at" TIMESTAMP NOT NULL, PRIMARY KEY (platform, metric));
        """,
    ),
    (
        7,
        "revenue: each post's affiliate link and sub-id, commission rows from the networks' reports; the learning "
        "planner's choices on jobs (account, arm, hour); account pauses and warm-up",
        f"""
        CREATE TABLE affiliate_links (
            job_id BIGINT NOT NULL,
            platform VARCHAR NOT NULL,
            sub_id VARCHAR NOT NULL UNIQUE,
            product_id BIGINT,
            network VARCHAR,
            origin_url VARCHAR,
            url VARCHAR,
            tracked BOOLEAN NOT NULL DEFAULT false,
            note VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP,
            PRIMARY KEY (job_id, platform)
        );
        CREATE TABLE commissions (
            network VARCHAR NOT NULL,
            order_id VARCHAR NOT NULL,
            item_id VARCHAR NOT NULL,
            model_id VARCHAR NOT NULL,
            checkout_id VARCHAR,
            status VARCHAR NOT NULL CHECK (status IN {sql_list(COMMISSION_STATUSES)}),
            raw_status VARCHAR,
            ordered_at TIMESTAMP,
            clicked_at TIMESTAMP,
            completed_at TIMESTAMP,
            order_value DOUBLE,
            commission DOUBLE,
            net_commission DOUBLE,
            currency VARCHAR NOT NULL DEFAULT 'VND',
            sub_ids JSON,
            sub_id VARCHAR,
            job_id BIGINT,
            platform VARCHAR,
            channel VARCHAR,
            item_name VARCHAR,
            source VARCHAR,
            imported_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (network, order_id, item_id, model_id)
        );
        ALTER TABLE products ADD COLUMN network VARCHAR;
        ALTER TABLE products ADD COLUMN campaign_id VARCHAR;
        ALTER TABLE jobs ADD COLUMN account_id BIGINT;
        ALTER TABLE jobs ADD COLUMN plan_arm JSON;
        ALTER TABLE accounts ADD COLUMN paused_until TIMESTAMP;
        ALTER TABLE accounts ADD COLUMN pause_reason VARCHAR;
        ALTER TABLE accounts ADD COLUMN warmup_days INTEGER DEFAULT 0;
        ALTER TABLE accounts ADD COLUMN warmup_from TIMESTAMP;
        ALTER TABLE accounts ADD COLUMN window_auto BOOLEAN DEFAULT false;
        """,
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]
