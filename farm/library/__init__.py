"""The media library and the products: import files, folders, URLs and product files; remove, clean up, retag."""

from farm.library._download import Downloaded, download
from farm.library._import import ImportOptions, ImportReport, check_mood, import_file, import_media, sweep_stale_parts
from farm.library._products import (
    PRODUCT_KEYS,
    ProductDefinition,
    import_product,
    import_products,
    parse_product,
    read_products,
)
from farm.library._remove import UPDATABLE, cleanup_media, remove_media, update_media

__all__ = [
    "Downloaded", "download",
    "ImportOptions", "ImportReport", "check_mood", "import_file", "import_media", "sweep_stale_parts",
    "PRODUCT_KEYS", "ProductDefinition", "import_product", "import_products", "parse_product",
    "read_products",
    "UPDATABLE", "cleanup_media", "remove_media", "update_media",
]
