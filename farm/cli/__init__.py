"""The ``farm`` command line: parsing, dispatch, errors as one line and an exit code, output."""

from farm.cli._main import build_parser, main, run
from farm.cli._output import Progress, format_table, print_json

__all__ = ["Progress", "build_parser", "format_table", "main", "print_json", "run"]
