"""``python -m farm.cli`` runs the CLI (as ``python -m farm`` does)."""

from farm.cli import run

run()
