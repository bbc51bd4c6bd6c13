"""Publishing: post metadata, accounts (connected in the browser) with encrypted tokens, checks before upload,
and the exactly-once publisher."""

from farm.publish._account_tokens import (
    clear_key_problems,
    keyring,
    live_tokens,
    load_tokens,
    mark_key_problem,
    mark_missing_scope,
    mark_reconnect,
    needs_refresh,
    refresh_account,
    store_tokens,
    with_token,
)
from farm.publish._accounts import (
    INTERACTIONS,
    Window,
    account_notices,
    account_row,
    account_status,
    add_account,
    check_privacy,
    effective_privacy,
    list_account_rows,
    read_token_file,
    remove_account,
    rotate_key,
    scope_warnings,
    set_active,
    store_account,
)
from farm.publish._assign import Planner, Target, job_targets, local_zone, midnight_utc, to_local
from farm.publish._checks import VideoFacts, check_upload, video_facts, violations
from farm.publish._connect import ConnectError, ConnectOptions, authorization_url, connect_account, pkce_pair
from farm.publish._flow import Outcome, Reporter, UploadFlow, upload_request
from farm.publish._ledger import IN_FLIGHT, follow_up, settle_job
from farm.publish._metadata import (
    AFFILIATE_URL_MAX_CHARS,
    DISCLOSURE_MAX_CHARS,
    ELLIPSIS,
    HASHTAG_MAX_CHARS,
    LANGUAGES,
    LINK_PLACEMENTS,
    TEXT_SOURCES,
    Language,
    LinkPlacement,
    Platform,
    PostMetadata,
    TextSource,
    TextUnit,
    build_post_metadata,
    check_affiliate_url,
    check_choice,
    clean_text,
    fit_text,
    graphemes,
    limits_for,
    normalize_hashtag,
    normalize_hashtags,
    platform_flags,
    text_rules,
    text_size,
    truncate_text,
)
from farm.publish._publisher import LocalUploads, RayUploads, StopFlag, Sweep, sweep
from farm.publish._secrets import KEYS_ENV, Keyring, ensure_key_file, key_file, load_keyring
from farm.publish._steps import StepRunner

__all__ = [
    "clear_key_problems", "keyring", "live_tokens", "load_tokens", "mark_key_problem", "mark_missing_scope", "mark_reconnect",
    "needs_refresh", "refresh_account", "store_tokens", "with_token",
    "INTERACTIONS", "Window", "account_notices", "account_row", "account_status", "add_account", "check_privacy",
    "effective_privacy", "list_account_rows", "read_token_file", "remove_account", "rotate_key", "scope_warnings",
    "set_active", "store_account",
    "Planner", "Target", "job_targets", "local_zone", "midnight_utc", "to_local",
    "VideoFacts", "check_upload", "video_facts", "violations",
    "ConnectError", "ConnectOptions", "authorization_url", "connect_account", "pkce_pair",
    "Outcome", "Reporter", "UploadFlow", "upload_request", "IN_FLIGHT", "follow_up", "settle_job",
    "LocalUploads", "RayUploads", "StopFlag", "Sweep", "sweep",
    "KEYS_ENV", "Keyring", "ensure_key_file", "key_file", "load_keyring",
    "StepRunner",
    "AFFILIATE_URL_MAX_CHARS", "DISCLOSURE_MAX_CHARS", "ELLIPSIS", "HASHTAG_MAX_CHARS", "LANGUAGES",
    "LINK_PLACEMENTS", "TEXT_SOURCES", "Language", "LinkPlacement", "Platform", "PostMetadata", "TextSource",
    "TextUnit", "build_post_metadata", "check_affiliate_url", "check_choice", "clean_text", "fit_text", "graphemes",
    "limits_for", "normalize_hashtag", "normalize_hashtags", "platform_flags", "text_rules", "text_size",
    "truncate_text",
]
