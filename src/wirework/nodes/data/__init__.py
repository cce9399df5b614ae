"""Built-in data-format nodes (`data.*`)."""

from __future__ import annotations

from wirework.engine.nodes import Node
from wirework.nodes.data.formats import Build, Parse

DATA_NODES: tuple[type[Node], ...] = (Parse, Build)
