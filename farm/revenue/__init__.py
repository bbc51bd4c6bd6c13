"""Revenue: affiliate links with a sub-id per post, commission reports joined to videos, and the
planner that learns which templates, moods and hours sell.

Modules: ``_rows`` (one commission row), ``_subid``/``_links``/``_networks``/``_shopee``/
``_accesstrade`` (links and the networks' APIs), ``_import``/``_sync``/``_report`` (commissions
into the catalog and out as reports), ``_bandit`` (Thompson sampling over Normal-Inverse-Gamma
posteriors), ``_rewards``/``_learn``/``_recommend`` (the nightly's choices from the history).

The networks are registered here, once (like the platforms): adding one is a module that builds a
:class:`Network` and a line below. httpx is imported only where a request is made.
"""

from farm.revenue._accesstrade import ACCESSTRADE
from farm.revenue._http import affiliate_http_client
from farm.revenue._links import SUB_ID_PLACEHOLDER, Link, fill_sub_id, links_for_job, plain_url, tracking_for
from farm.revenue._networks import Network, network, network_for, network_names, networks, register, unregister
from farm.revenue._rows import Commission, CommissionStatus
from farm.revenue._import import import_commissions, parse_amount, read_commission_csv
from farm.revenue._report import GROUPINGS as REVENUE_GROUPINGS
from farm.revenue._report import KEY_COLUMNS as REVENUE_KEY_COLUMNS
from farm.revenue._report import MONEY_COLUMNS as REVENUE_MONEY_COLUMNS
from farm.revenue._report import check_days as check_revenue_days, revenue_report
from farm.revenue._shopee import SHOPEE
from farm.revenue._shopee import signature as shopee_signature
from farm.revenue._subid import SUB_ID_MAX_CHARS, check_sub_id, platform_codes, sub_id_for
from farm.revenue._sync import sync_commissions

for _network in (SHOPEE, ACCESSTRADE):
    register(_network)

__all__ = [
    "ACCESSTRADE", "SHOPEE", "SUB_ID_MAX_CHARS", "SUB_ID_PLACEHOLDER", "Commission", "CommissionStatus", "Link",
    "Network", "affiliate_http_client", "check_sub_id", "fill_sub_id", "links_for_job", "network", "network_for",
    "network_names", "networks", "plain_url", "platform_codes", "register", "sub_id_for", "sync_commissions",
    "tracking_for", "unregister",
]
# commission reports in and revenue out (_import, _report)
__all__ += ["import_commissions", "parse_amount", "read_commission_csv", "shopee_signature", "REVENUE_GROUPINGS", "REVENUE_KEY_COLUMNS",
            "REVENUE_MONEY_COLUMNS", "check_revenue_days", "revenue_report"]
# the learning planner's math (_bandit): Thompson sampling over Normal-Inverse-Gamma posteriors
from farm.revenue._bandit import DIMENSIONS as PLANNER_DIMENSIONS  # noqa: E402
from farm.revenue._bandit import Choice, Learner, Observation, Posterior, decay_weight, nig_update  # noqa: E402
from farm.revenue._bandit import student_t_quantile  # noqa: E402

__all__ += ["PLANNER_DIMENSIONS", "Choice", "Learner", "Observation", "Posterior", "decay_weight", "nig_update",
            "student_t_quantile"]
# the learner fitted to the catalog, and what it says (_rewards, _learn, _explain, _recommend)
from farm.revenue._rewards import DIMENSIONS, Post, account_key, hour_arm, read_posts, views_at  # noqa: E402
from farm.revenue._learn import Fitted, fit as fit_learner  # noqa: E402
from farm.revenue._explain import explain as explain_plan  # noqa: E402
from farm.revenue._recommend import recommend  # noqa: E402

__all__ += ["DIMENSIONS", "Fitted", "Post", "account_key", "fit_learner", "hour_arm", "read_posts", "views_at",
            "explain_plan", "recommend"]
