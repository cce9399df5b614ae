"""Wirework: workflow automation, bot hosting and team tools on one database schema."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wirework")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
