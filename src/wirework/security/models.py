"""Tables of the security room: shared rate-limit counters.

Seed: F rate_limits. Every server process reads and writes the same rows, so a limit holds
for the whole instance, not per process.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin


class RateLimit(IdMixin, Base):
    __tablename__ = "rate_limits"
    __label__ = "Rate limit"
    __table_args__ = {
        "comment": "Fixed-window counters shared by every server process: failed logins per address "
        "and per account, webhook calls per client.",
        "info": {"category": "Accounts and tenancy", "seeds": "F rate_limits"},
    }

    key: Mapped[str] = mapped_column(
        String(255), unique=True, comment="What is counted, e.g. login-ip:1.2.3.4."
    )
    window_start: Mapped[datetime] = mapped_column(comment="Start of the current window (UTC).")
    hits: Mapped[int] = mapped_column(Integer, default=0, comment="Events counted in this window.")
    blocked_until: Mapped[datetime | None] = mapped_column(comment="Back-off: refused until then (UTC).")
