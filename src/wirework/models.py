"""Every table of Wirework, imported in one place for migrations, the schema doc and backups."""

from wirework.accounts.models import (
    ApiKey,
    AuthSession,
    Membership,
    OAuthToken,
    Organization,
    User,
    UserLoginToken,
    UserPreferences,
)
from wirework.ai.models import AIModel, AIUsage, AIWorkflowSuggestion
from wirework.bots.models import Bot, BotCommand, BotConfiguration, BotMemory, Message, UserSession
from wirework.channels.models import Platform, PlatformBot, PlatformChannel, PlatformChannelUser, PlatformUser
from wirework.db.base import Base
from wirework.engine.models import (
    BackgroundJob,
    Execution,
    ExecutionLog,
    ExecutionPayload,
    NodeCategoryRecord,
    NodeTypeRecord,
)
from wirework.knowledge.models import KBChunk, KBCollection, KBDocument, UserKBAssociation
from wirework.security.models import RateLimit
from wirework.triggers.models import EventTrigger, Schedule, Webhook, WebhookTestListener
from wirework.workflows.models import Credential, Variable, Workflow, WorkflowTemplate, WorkflowVersion

__all__ = [
    "AIModel",
    "AIUsage",
    "AIWorkflowSuggestion",
    "ApiKey",
    "AuthSession",
    "BackgroundJob",
    "Base",
    "Bot",
    "BotCommand",
    "BotConfiguration",
    "BotMemory",
    "Credential",
    "EventTrigger",
    "Execution",
    "ExecutionLog",
    "ExecutionPayload",
    "KBChunk",
    "KBCollection",
    "KBDocument",
    "Membership",
    "Message",
    "NodeCategoryRecord",
    "NodeTypeRecord",
    "OAuthToken",
    "Organization",
    "Platform",
    "PlatformBot",
    "PlatformChannel",
    "PlatformChannelUser",
    "PlatformUser",
    "RateLimit",
    "Schedule",
    "User",
    "UserKBAssociation",
    "UserLoginToken",
    "UserPreferences",
    "UserSession",
    "Variable",
    "Webhook",
    "WebhookTestListener",
    "Workflow",
    "WorkflowTemplate",
    "WorkflowVersion",
]
