"""``python -m farm`` runs the CLI."""

from farm.cli import run

run()
