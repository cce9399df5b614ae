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
from wirework.db.base import Base

__all__ = [
    "ApiKey",
    "AuthSession",
    "Base",
    "Membership",
    "OAuthToken",
    "Organization",
    "User",
    "UserLoginToken",
    "UserPreferences",
]
