"""A workspace: a folder with ``farm.toml``, the ``farm.duckdb`` catalog and the media folders."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from catalogs import Catalog
from farm.errors import InputError

MOODS = ("upbeat", "calm", "trending", "commercial")
KIND_FOLDERS = {"template": "templates", "source": "sources", "audio": "audio", "image": "products"}
CONFIG_NAME = "farm.toml"
CATALOG_NAME = "farm.duckdb"

CONFIG_TEMPLATE = """\
# reel farm workspace settings. Every key is optional: the values shown are the defaults.
# Uncomment a line to change it. Paths are relative to this file's folder.

[render]
# layout = "vertical"        # vertical | horizontal: where the 2/3 and 1/3 boxes go
# fit = "cover"              # cover | contain | blur: how a clip fills its box
# fade_s = 0.5               # fade in/out and crossfade length; 0 turns fades off
# max_duration_s = 60.0      # a job's mains are cut to this length
# music_volume = 0.3         # gain of the music under the main clips' audio
# fps = 30
# preset = "veryfast"        # libx264 preset
# crf = 23                   # libx264 quality (lower is better and bigger)
# encoder = "auto"           # auto | libx264 | nvenc

[queue]
# max_attempts = 3           # renders of one job before it is marked failed
# job_timeout_s = 1800.0     # a render running longer is presumed hung: its worker is restarted
# lock_wait_s = 10.0         # how long to wait for another farm process holding the catalog

[media]
# max_download_bytes = 2147483648   # cap on one URL download (2 GiB)
# download_timeout_s = 30.0         # connect/read timeout of a URL download
# default_license = "unknown"       # licence of imported media when --license is not given

[nightly]
# count = 20                 # jobs planned per night
# pair_window = 200          # no main/template pair repeats within this many recent jobs
# mood = "upbeat"            # music mood when a job names none
"""


@dataclass(frozen=True)
class RenderSettings:
    layout: str = "vertical"
    fit: str = "cover"
    fade_s: float = 0.5
    max_duration_s: float = 60.0
    music_volume: float = 0.3
    fps: int = 30
    preset: str = "veryfast"
    crf: int = 23
    encoder: str = "auto"


@dataclass(frozen=True)
class QueueSettings:
    max_attempts: int = 3
    lock_wait_s: float = 10.0
    job_timeout_s: float = 1800.0


@dataclass(frozen=True)
class MediaSettings:
    max_download_bytes: int = 2 * 1024**3
    download_timeout_s: float = 30.0
    default_license: str = "unknown"


@dataclass(frozen=True)
class NightlySettings:
    count: int = 20
    pair_window: int = 200
    mood: str = "upbeat"


@dataclass(frozen=True)
class Settings:
    render: RenderSettings = field(default_factory=RenderSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    nightly: NightlySettings = field(default_factory=NightlySettings)

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Read ``farm.toml``; unknown sections or keys and wrong types name the file and key."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: not valid TOML ({err})") from None
        sections = {f.name: f.type for f in dataclasses.fields(cls)}
        built = {}
        for name, value in data.items():
            if name not in sections:
                raise InputError(f"{path}: unknown section [{name}]. Supported: {', '.join(sections)}.")
            if not isinstance(value, dict):
                raise InputError(f"{path}: [{name}] must be a table")
            klass = {"render": RenderSettings, "queue": QueueSettings, "media": MediaSettings, "nightly": NightlySettings}[name]
            defaults = klass()
            kwargs = {}
            for key, v in value.items():
                if not hasattr(defaults, key):
                    known = ", ".join(f.name for f in dataclasses.fields(klass))
                    raise InputError(f"{path}: unknown key {name}.{key}. Supported: {known}.")
                want = type(getattr(defaults, key))
                if want is float and isinstance(v, int) and not isinstance(v, bool):
                    v = float(v)
                if not isinstance(v, want) or isinstance(v, bool) != (want is bool):
                    raise InputError(f"{path}: {name}.{key} must be {want.__name__}, not {v!r}")
                kwargs[key] = v
            built[name] = klass(**kwargs)
        settings = cls(**built)
        settings._validate(path)
        return settings

    def _validate(self, path: Path) -> None:
        from catalogs import LICENSES
        from farm.media._encode import X264_PRESETS

        choices = {
            ("render", "layout"): ("vertical", "horizontal"), ("render", "fit"): ("cover", "contain", "blur"),
            ("render", "encoder"): ("auto", "libx264", "nvenc"), ("render", "preset"): X264_PRESETS,
            ("media", "default_license"): LICENSES,
        }
        for (section, key), allowed in choices.items():
            value = getattr(getattr(self, section), key)
            if value not in allowed:
                raise InputError(f"{path}: {section}.{key} = {value!r} is not allowed. Supported: {', '.join(allowed)}.")
        positive = [("render", "max_duration_s"), ("render", "fps"), ("queue", "max_attempts"),
                    ("media", "max_download_bytes"), ("media", "download_timeout_s"), ("nightly", "pair_window"),
                    ("queue", "job_timeout_s")]
        non_negative = [("render", "fade_s"), ("render", "music_volume"), ("queue", "lock_wait_s"), ("nightly", "count"),
                        ("render", "crf")]
        for section, key in positive:
            if getattr(getattr(self, section), key) <= 0:
                raise InputError(f"{path}: {section}.{key} must be more than 0")
        for section, key in non_negative:
            if getattr(getattr(self, section), key) < 0:
                raise InputError(f"{path}: {section}.{key} must be 0 or more")


class Workspace:
    """A farm workspace rooted at ``root`` (the folder holding ``farm.toml``)."""

    def __init__(self, root: str | os.PathLike, *, settings: Settings | None = None) -> None:
        self.root = Path(root).resolve()
        self.settings = settings or Settings.load(self.root / CONFIG_NAME)
        self.catalog = Catalog(self.root / CATALOG_NAME, wait_s=self.settings.queue.lock_wait_s)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def state_dir(self) -> Path:
        """Farm-private files: locks, partial downloads."""
        return self.root / ".farm"

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
