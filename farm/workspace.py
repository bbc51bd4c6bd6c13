"""A workspace: a folder with ``farm.toml``, the ``farm.duckdb`` catalog and the media folders."""

from __future__ import annotations

import os
from pathlib import Path

import catalogs
from farm.errors import InputError
from farm.settings import (  # noqa: F401  (the last four: this module's names before settings.py)
    MOODS,
    MediaSettings,
    NightlySettings,
    QueueSettings,
    RenderSettings,
    Settings,
    config_template,
)

KIND_FOLDERS = {"template": "templates", "source": "sources", "audio": "audio", "image": "products"}
CONFIG_NAME = "farm.toml"
CATALOG_NAME = "farm.duckdb"
CONFIG_TEMPLATE = config_template()


class Workspace:
    """A farm workspace rooted at ``root`` (the folder holding ``farm.toml``)."""

    def __init__(self, root: str | os.PathLike, *, settings: Settings | None = None) -> None:
        self.root = Path(root).resolve()
        self.settings = settings or Settings.load(self.root / CONFIG_NAME)
        self.catalog = catalogs.Catalog(self.root / CATALOG_NAME, wait_s=self.settings.queue.lock_wait_s)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def state_dir(self) -> Path:
        """Farm-private files: locks, partial downloads."""
        return self.root / ".farm"

    @property
    def outbox_dir(self) -> Path:
        """Where the ``local`` platform's accounts receive videos and their metadata."""
        return self.root / "outbox"

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics"

    def folder_for(self, kind: str, mood: str | None = None) -> Path:
        base = self.root / KIND_FOLDERS[kind]
        if kind == "audio":
            return base / (mood or "unsorted")
        return base

    def contains(self, path: str | os.PathLike) -> bool:
        try:
            Path(path).resolve().relative_to(self.root)
            return True
        except ValueError:
            return False


def init_workspace(directory: str | os.PathLike) -> tuple[Workspace, bool]:
    """Create (or complete) a workspace in ``directory``; returns it and whether it was new."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not a folder")
    created = not (root / CATALOG_NAME).exists()
    root.mkdir(parents=True, exist_ok=True)
    config = root / CONFIG_NAME
    if not config.exists():
        config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    for name in ("templates", "sources", "products", "out", "metrics", ".farm"):
        (root / name).mkdir(exist_ok=True)
    for mood in MOODS:
        (root / "audio" / mood).mkdir(parents=True, exist_ok=True)
    ws = Workspace(root)
    ws.catalog.create()
    return ws, created


def find_workspace(explicit: str | os.PathLike | None = None, *, start: str | os.PathLike | None = None) -> Workspace:
    """The workspace named by ``--workspace``, else ``FARM_HOME``, else the nearest one upwards."""
    for given, origin in ((explicit, "--workspace"), (os.environ.get("FARM_HOME") or None, "FARM_HOME")):
        if given:
            root = Path(given)
            if not (root / CATALOG_NAME).exists():
                raise InputError(f"{root}: not a farm workspace ({origin}; run `farm init {root}` first)")
            return Workspace(root)
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CATALOG_NAME).exists():
            return Workspace(folder)
    raise InputError(f"{here}: not inside a farm workspace (run `farm init`, pass --workspace DIR or set FARM_HOME)")
