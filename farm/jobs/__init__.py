"""Jobs: render specs and results, planning (one ranker, one rights check), and the job lifecycle."""

from farm.jobs._lifecycle import (
    DRIVER_CATALOG_WAIT_S,
    cancel_job,
    check_job_inputs,
    claim,
    driver_catalog_wait,
    record_outcome,
    recover,
    release,
    remove_partial,
    render_lock,
    retry_jobs,
    worker_name,
)
from farm.jobs._detail import job_detail, with_sub_ids
from farm.jobs._outcome import JobOutcome
from farm.jobs._plan import (
    Ranker,
    build_mashup,
    check_rights,
    credits_line,
    enqueue_mashup,
    enqueue_plans,
    plan_batch,
)
from farm.jobs._posts import post_metadata, write_post_text
from farm.jobs._promo import (
    Product,
    PromoJob,
    build_promo,
    enqueue_promo,
    library_moods,
    load_product,
    make_writer,
    plan_promos,
    product_from_row,
)
from farm.jobs._spec import (
    PROMO_DURATION_S,
    TIMING_STAGES,
    EncoderName,
    MashupSpec,
    PromoSpec,
    RenderResult,
    check_platform,
)

# The learning planner's side loads on first use (PEP 562): it pulls in the publisher's account rules.
_LAZY = {"AccountPlan": "farm.jobs._learned", "plan_promo_accounts": "farm.jobs._learned"}


def __getattr__(name: str):
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'farm.jobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "DRIVER_CATALOG_WAIT_S", "cancel_job", "check_job_inputs", "claim", "driver_catalog_wait", "record_outcome",
    "recover", "release", "remove_partial", "render_lock", "retry_jobs", "worker_name",
    "JobOutcome", "job_detail", "with_sub_ids",
    "Ranker", "build_mashup", "check_platform", "check_rights", "credits_line", "enqueue_mashup", "enqueue_plans",
    "plan_batch", "AccountPlan", "plan_promo_accounts",
    "post_metadata", "write_post_text",
    "Product", "PromoJob", "build_promo", "enqueue_promo", "library_moods", "load_product", "make_writer",
    "plan_promos", "product_from_row",
    "PROMO_DURATION_S", "TIMING_STAGES", "EncoderName", "MashupSpec", "PromoSpec", "RenderResult",
]
