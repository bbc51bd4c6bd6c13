"""Revenue: affiliate links with a sub-id per post, commission reports joined to videos, and the
planner that learns which templates, moods and hours sell.

Modules: ``_rows`` (one commission row), ``_subid``/``_links``/``_networks``/``_shopee``/
``_accesstrade`` (links and the networks' APIs), ``_import``/``_sync``/``_report`` (commissions
into the catalog and out as reports), ``_bandit`` (Thompson sampling over Normal-Inverse-Gamma
posteriors), ``_rewards``/``_learn``/``_recommend`` (the nightly's choices from the history).
"""

from farm.revenue._rows import Commission, CommissionStatus

__all__ = ["Commission", "CommissionStatus"]
