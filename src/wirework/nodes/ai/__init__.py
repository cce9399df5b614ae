"""AI nodes (`ai.*`, `kb.*`): LLM calls, the tool-calling agent, classification, extraction,
summaries, embeddings, and knowledge-base search and ingestion.

They reach models through `ai.service` (which model, the call, usage recorded per execution,
conversation and node) and knowledge bases through `knowledge.service`; conversations through
`bots.service`. Models carry their own credential, so these nodes have no credential slots.
"""

from __future__ import annotations

from wirework.engine.nodes import Node
from wirework.nodes.ai.chat import AIAgent, AIChat
from wirework.nodes.ai.knowledge import AIEmbed, KBIngest, KBSearch
from wirework.nodes.ai.structured import AIClassify, AIExtract, AISummarize

AI_NODES: tuple[type[Node], ...] = (
    AIChat,
    AIAgent,
    AIClassify,
    AIExtract,
    AISummarize,
    AIEmbed,
    KBSearch,
    KBIngest,
)
