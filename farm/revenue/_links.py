"""Each post's affiliate link with its sub-id: made once per (job, platform), cached, never failing a job.

How a product's link is made (:func:`tracking_for` says which, for ``farm products list/show``):

- the link contains ``{sub_id}``: the sub-id is put there (URL-encoded), no request made;
- its network (the product's ``network``, else the link's host) has an API and the credentials
  are set: the network makes a link that carries the sub-id (Shopee ``subIds[0]``, AccessTrade
  ``utm_content``);
- otherwise the link as it is, untracked, with a note saying why.

A network that is down or refuses makes that post fall back to the plain link with a note (in the
link row and in the job's process log, stage ``link``); the job goes on. Network calls happen
outside any catalog write transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import catalogs
from farm.errors import FarmError, RetryableError
from farm.revenue._http import affiliate_http_client
from farm.revenue._networks import Network, network_for
from farm.revenue._subid import check_sub_id, sub_id_for

if TYPE_CHECKING:
    import httpx

    from farm.workspace import Workspace

SUB_ID_PLACEHOLDER = "{sub_id}"


@dataclass(frozen=True)
class Link:
    """One post's affiliate link. ``tracked``: the link carries ``sub_id`` (a sale through it names
    the post); ``note`` says why not, or what went wrong, when it does not."""

    platform: str
    sub_id: str
    url: str
    network: str | None
    tracked: bool
    note: str | None = None

    def __post_init__(self) -> None:
        check_sub_id(self.sub_id)


def fill_sub_id(url: str, sub_id: str) -> str:
    """``url`` with every ``{sub_id}`` replaced by the (URL-encoded) sub-id."""
    return url.replace(SUB_ID_PLACEHOLDER, quote(check_sub_id(sub_id), safe=""))


def plain_url(url: str | None) -> str | None:
    """The link as used untracked: a ``{sub_id}`` placeholder left empty."""
    return url.replace(SUB_ID_PLACEHOLDER, "") if url else url


def _plan(product: dict, settings) -> tuple[str, Network | None, str | None]:
    """(how, the network, why untracked): how is ``none``, ``template``, ``api`` or ``plain``."""
    url = product.get("affiliate_url")
    declared = product.get("network")
    if not url:
        return "none", None, "no affiliate link"
    net = network_for(url, declared)
    if SUB_ID_PLACEHOLDER in url:
        return "template", net, None
    if net is None:
        why = ("network 'other': put {sub_id} in the link to track each video" if declared == "other" else
               "unknown network: put {sub_id} in the link, or set the product's network (shopee, accesstrade)")
        return "plain", None, why
    why = net.missing(settings, campaign_id=product.get("campaign_id"))
    return ("plain", net, why) if why else ("api", net, None)


def tracking_for(product: dict, settings) -> dict:
    """How a product's links are tracked, for people and for --json: ``{"tracking": text, "tracked": bool,
    "network": name or None}``; text such as ``shopee sub-id``, ``{sub_id} template`` or
    ``no per-video tracking (no Shopee Affiliate API credentials (...))``. ``settings`` is ``[affiliate]``."""
    how, net, why = _plan(product, settings)
    name = net.name if net else (product.get("network") or None)
    if how == "template":
        return {"tracking": "{sub_id} template", "tracked": True, "network": name}
    if how == "api":
        return {"tracking": net.tracking, "tracked": True, "network": name}  # type: ignore[union-attr]
    text = "no affiliate link" if how == "none" else f"no per-video tracking ({why})"
    return {"tracking": text, "tracked": False, "network": name}


def _link_of(row: dict) -> Link:
    return Link(platform=row["platform"], sub_id=row["sub_id"], url=row["url"], network=row.get("network"),
                tracked=bool(row["tracked"]), note=row.get("note"))


class _Maker:
    """Makes the links of one job's posts; after a network failed for one post, the others do not
    wait for it again."""

    def __init__(self, product: dict, settings, *, client: httpx.Client | None, sleep) -> None:
        self.product, self.settings, self.sleep = product, settings, sleep
        self.client, self.own_client = client, False
        self.how, self.net, self.why = _plan(product, settings)
        self.down: str | None = None

    def _http(self) -> httpx.Client:
        if self.client is None:
            self.client, self.own_client = affiliate_http_client(self.settings), True
        return self.client

    def close(self) -> None:
        if self.own_client and self.client is not None:
            self.client.close()

    def make(self, platform: str, sub_id: str) -> tuple[Link, str]:
        """The post's link and the process-log status of its note (``ok``, ``info``, ``failed``)."""
        url = self.product["affiliate_url"]
        name = self.net.name if self.net else (self.product.get("network") or None)
        if self.how == "template":
            return Link(platform, sub_id, fill_sub_id(url, sub_id), name, True), "ok"
        if self.how == "plain":
            return Link(platform, sub_id, plain_url(url), name, False, f"no per-video tracking ({self.why})"), "info"
        assert self.net is not None
        if self.down is None:
            try:
                made = self.net.make_link(url, sub_id, settings=self.settings, client=self._http(),
                                          campaign_id=self.product.get("campaign_id"), sleep=self.sleep)
                return Link(platform, sub_id, made, name, True), "ok"
            except RetryableError as err:
                self.down = str(err)  # down: the other posts do not wait for it again
                failure = self.down
            except FarmError as err:  # refused (credentials, the URL): this post falls back
                failure = str(err)
        else:
            failure = self.down
        note = f"{self.net.title} link not made ({failure}); the plain link is used, untracked"
        return Link(platform, sub_id, plain_url(url), name, False, note), "failed"


def links_for_job(ws: Workspace, *, job_id: int, product: dict, platforms: list[str],
                  client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep) -> dict[str, Link]:
    """Each platform's link for ``job_id``'s posts of ``product`` (a catalog product row: ``id``,
    ``affiliate_url``, ``network``, ``campaign_id``); ``{}`` for a product without a link.

    Links already made for the job are read from the catalog (no request); the others are made
    (network calls outside any write transaction), stored and their notes logged. Never raises for
    a network's trouble: that post gets the plain link with a note.
    """
    if not product.get("affiliate_url"):
        return {}
    settings = ws.settings.affiliate
    with ws.catalog.read() as con:
        cached = {r["platform"]: _link_of(r) for r in catalogs.get_links(con, job_id)}
    todo = [p for p in dict.fromkeys(platforms) if p not in cached]
    if not todo:
        return {p: cached[p] for p in platforms}
    maker = _Maker(product, settings, client=client, sleep=sleep)
    try:
        made = {p: maker.make(p, sub_id_for(job_id, p, prefix=settings.sub_id_prefix)) for p in todo}
    finally:
        maker.close()
    with ws.catalog.write() as con:
        for p, (link, status) in made.items():
            row = catalogs.save_link(con, job_id=job_id, platform=p, sub_id=link.sub_id, url=link.url,
                                     tracked=link.tracked, product_id=product.get("id"), network=link.network,
                                     origin_url=product["affiliate_url"], note=link.note)
            cached[p] = _link_of(row)
            if link.note and cached[p] == link:
                catalogs.log_stage(con, job_id, "link", status=status, detail=f"{p}: {link.note}")
    return {p: cached[p] for p in platforms}
