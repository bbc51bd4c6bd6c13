"""`farm serve`: the web dashboard and the JSON API on uvicorn (127.0.0.1 by default; a token anywhere else)."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys

from farm.cli._workspace import _ws, add_workspace_option
from farm.errors import InputError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _default_lang() -> str:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return "en"


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="the farm in a browser: dashboard and JSON API (/docs) on 127.0.0.1")
    add_workspace_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs a token)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token-file", default=None, metavar="F", help="read the token from F (its hash is kept in .farm/)")
    p.add_argument("--lang", choices=("vi", "en"), default=None, help="page language (default from the locale)")
    p.set_defaults(func=_cmd_serve)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, made here so a port in use is one line (exit 2) before uvicorn starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} on {host} is in use (choose another with --port)") from None
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from farm.web import create_app, setup_token, token_hash_path

    if not 0 < args.port < 65536:
        raise InputError(f"--port must be 1 to 65535, not {args.port}")
    ws = _ws(args)
    ws.catalog.ensure_schema()
    need_token = args.token_file is not None or args.host not in LOOPBACK
    digest = None
    if need_token:
        digest, token = setup_token(ws, token_file=args.token_file)
        if token is not None:
            print(f"farm serve: token (shown once): {token}", file=sys.stderr)
        print(f"farm serve: the token's sha256 is kept in {token_hash_path(ws)}", file=sys.stderr)
    app = create_app(ws, lang=args.lang or _default_lang(), require_token=need_token, token_sha256=digest)
    sock = _bind(args.host, args.port)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving on http://{shown}:{args.port}/", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
