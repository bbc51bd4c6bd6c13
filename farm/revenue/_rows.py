"""One commission row as every source gives it (a dashboard CSV, a network's report API), before the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from catalogs import COMMISSION_STATUSES
from farm.errors import InputError

CommissionStatus = Literal["pending", "completed", "cancelled"]


@dataclass(frozen=True)
class Commission:
    """One item of one order, keyed on (network, order_id, item_id, model_id).

    ``status`` is the farm's own (pending, completed, cancelled); ``raw_status`` is the
    network's word for it. ``net_commission`` is what the affiliate is paid for the item
    (Shopee's "Hoa hồng ròng tiếp thị liên kết"); reports sum it. Times are naive UTC.
    """

    network: str
    order_id: str
    item_id: str
    model_id: str
    status: CommissionStatus
    raw_status: str
    currency: str = "VND"
    order_value: float | None = None
    commission: float | None = None
    net_commission: float | None = None
    sub_ids: tuple[str, ...] = ()
    checkout_id: str | None = None
    ordered_at: datetime | None = None
    clicked_at: datetime | None = None
    completed_at: datetime | None = None
    channel: str | None = None
    item_name: str | None = None

    def __post_init__(self) -> None:
        if self.status not in COMMISSION_STATUSES:
            raise InputError(f"Invalid commission status ({self.status!r}). Supported: {', '.join(COMMISSION_STATUSES)}.")
        if not self.order_id:
            raise InputError("a commission row needs an order id")
        if self.model_id in ("0", "None", "null"):
            # an item without a model: the API says 0 where an export may leave the cell empty; one key for both
            object.__setattr__(self, "model_id", "")

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.network, self.order_id, self.item_id, self.model_id)
