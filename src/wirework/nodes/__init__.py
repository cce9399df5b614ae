"""Built-in node types. `load_builtin_nodes()` registers them; nodes know the engine, not the web."""

from __future__ import annotations

from wirework.engine.nodes import Node, NodeRegistry, default_registry


def builtin_node_types() -> tuple[type[Node], ...]:
    """Every built-in node class (imported on first call)."""
    from wirework.nodes.ai import AI_NODES
    from wirework.nodes.chat import CHAT_NODES
    from wirework.nodes.core import CORE_NODES
    from wirework.nodes.data import DATA_NODES
    from wirework.nodes.mcp import MCP_NODES

    return (*CORE_NODES, *DATA_NODES, *CHAT_NODES, *AI_NODES, *MCP_NODES)


def load_builtin_nodes(registry: NodeRegistry | None = None) -> NodeRegistry:
    """Register the built-in nodes in `registry` (default: the process-wide one); idempotent."""
    target = registry if registry is not None else default_registry
    for cls in builtin_node_types():
        target.register(cls)
    return target
