"""The media library: import files, folders and URLs; remove, clean up, retag."""

from farm.library._download import Downloaded, download
from farm.library._import import ImportOptions, ImportReport, check_mood, import_file, import_media, sweep_stale_parts
from farm.library._remove import UPDATABLE, cleanup_media, remove_media, update_media

__all__ = [
    "Downloaded", "download",
    "ImportOptions", "ImportReport", "check_mood", "import_file", "import_media", "sweep_stale_parts",
    "UPDATABLE", "cleanup_media", "remove_media", "update_media",
]
