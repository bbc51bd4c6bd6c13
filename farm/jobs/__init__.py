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

__all__ = [
    "DRIVER_CATALOG_WAIT_S", "cancel_job", "check_job_inputs", "claim", "driver_catalog_wait", "record_outcome",
    "recover", "release", "remove_partial", "render_lock", "retry_jobs", "worker_name",
    "JobOutcome",
    "Ranker", "build_mashup", "check_platform", "check_rights", "credits_line", "enqueue_mashup", "enqueue_plans",
    "plan_batch",
    "post_metadata", "write_post_text",
    "Product", "PromoJob", "build_promo", "enqueue_promo", "library_moods", "load_product", "make_writer",
    "plan_promos", "product_from_row",
    "PROMO_DURATION_S", "TIMING_STAGES", "EncoderName", "MashupSpec", "PromoSpec", "RenderResult",
]
