"""Live updates: ``GET /events``, server-sent events carrying the queue counts and the latest batch's
progress as an HTML fragment (htmx's SSE extension swaps it in), sent when they change."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from farm.errors import BusyError
from farm.web._pages import live_summary, login_redirect, render
from farm.web._state import web_state

router = APIRouter(include_in_schema=False)

POLL_S = 1.5
"""How often the catalog is read (one short read each time) while a page listens."""
KEEPALIVE_S = 15.0


def sse_message(event: str, data: str) -> str:
    """One server-sent event; each line of ``data`` on its own ``data:`` line."""
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in data.splitlines() or [""]) + "\n"


def _fragment(request: Request) -> tuple[str, str]:
    """(a key that changes when the numbers do, the live fragment's HTML)."""
    try:
        live = live_summary(web_state(request).ws)
    except BusyError:
        return "busy", render(request, "_busy_live.html").body.decode()
    key = json.dumps(live, default=str, sort_keys=True)
    return key, render(request, "_live.html", live=live).body.decode()


@router.get("/events")
async def events(request: Request, once: int = 0, max_events: int = 0, interval_s: float = POLL_S) -> Response:
    """``?once=1`` (or ``max_events=N``) ends the stream after that many events, so a test can read it."""
    redirect = login_redirect(request)
    if redirect is not None:
        return redirect
    limit = 1 if once else max(0, int(max_events))
    interval_s = min(max(float(interval_s), 0.2), 30.0)

    async def stream():
        last, sent, quiet_s = None, 0, 0.0
        while True:
            key, html = await asyncio.to_thread(_fragment, request)
            if key != last:
                yield sse_message("live", html)
                last, sent, quiet_s = key, sent + 1, 0.0
                if limit and sent >= limit:
                    return
            elif quiet_s >= KEEPALIVE_S:
                yield ": keep-alive\n\n"
                quiet_s = 0.0
            await asyncio.sleep(interval_s)
            quiet_s += interval_s
            if await request.is_disconnected():
                return

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
