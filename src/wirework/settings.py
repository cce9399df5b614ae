"""Configuration: every `WIREWORK_*` setting, read once, from the environment or `wirework.toml`.

Nothing else in Wirework reads `os.environ`; import `get_settings()` instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WIREWORK_", toml_file="wirework.toml", extra="ignore")

    env: Literal["development", "production", "test"] = Field(
        "development", description="`production` turns on JSON logs and refuses weak set-ups."
    )
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where SQLite, the key file and uploads live.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at `<data_dir>/wirework.db`."
    )
    database_pool_size: int = Field(10, ge=1, description="Connections per process (PostgreSQL/MySQL).")
    secret_key: str = Field(
        "", description="Key for encrypting credentials; empty means a 0600 key file in data_dir."
    )
    secret_key_previous: str = Field(
        "",
        description="Keys credentials were sealed with before a rotation, comma-separated: still "
        "accepted for opening until `wirework secrets rotate` has resealed everything.",
    )
    host: str = Field("127.0.0.1", description="Address `wirework serve` listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port `wirework serve` listens on.")
    public_url: str = Field(
        "", description="URL users reach Wirework at (for links); default from host/port."
    )
    open_signup: bool = Field(False, description="Let anyone sign up without an invitation.")
    session_ttl_hours: int = Field(24 * 14, ge=1, description="How long a web login lasts.")
    invitation_ttl_hours: int = Field(24 * 7, ge=1, description="How long an invitation token lasts.")
    login_max_attempts: int = Field(
        10, ge=1, description="Failed logins allowed per client address in a window (then 429)."
    )
    login_window_seconds: int = Field(300, ge=1, description="The login rate-limit window.")
    cookie_secure: bool = Field(False, description="Mark session cookies Secure (set behind HTTPS).")
    public_docs: bool | None = Field(
        None,
        description="Serve the API documentation (/docs, /redoc, /openapi.json) to anyone; "
        "default on, except in production.",
    )
    executor_concurrency: int = Field(8, ge=1, description="Executions one process runs at once.")
    broker_url: str = Field(
        "",
        description="Worker mode: redis://… or amqp://…; serve then only accepts work and "
        "`wirework worker` processes run it. Empty runs everything in the serve process.",
    )
    execution_lease_s: int = Field(
        30, ge=2, le=3600, description="A running execution's lease; a dead process's work resumes after it."
    )
    shutdown_grace_s: float = Field(
        10.0,
        ge=0,
        description="On SIGTERM, how long running executions may finish before they are handed back.",
    )
    webhook_max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest webhook body (413 above)."
    )
    webhook_rate_limit: int = Field(
        6000,
        ge=0,
        description="Calls per minute one client address may make to one webhook path; 0 = no limit.",
    )
    executions_max_age_days: int = Field(
        30, ge=0, description="Prune finished executions older; 0 keeps all."
    )
    executions_max_count: int = Field(
        10_000, ge=0, description="Keep at most this many finished executions; 0 keeps all."
    )
    http_allow_hosts: str = Field(
        "", description="Comma-separated hosts/CIDRs nodes may call despite the SSRF guard (e.g. 10.0.0.0/8)."
    )
    expression_max_steps: int = Field(
        1_000_000,
        ge=1000,
        description="Work one expression render may do (loop turns, calls, data handled; a million "
        "is about a second of CPU); past it the node fails with an error saying so.",
    )
    expression_max_size: int = Field(
        10_000_000,
        ge=10_000,
        description="Largest value an expression may make, in bytes (text, lists and objects: an "
        "element counts 8); checked before padding, repeating or joining allocates it.",
    )
    code_isolation: Literal["bubblewrap", "process"] = Field(
        "bubblewrap",
        description="How the Code node isolates user code: `bubblewrap` (namespaces + seccomp; the Code "
        "node refuses to run where they are unavailable) or `process` (less safe: a plain child "
        "process, see docs/security.md).",
    )
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool | None = Field(None, description="JSON logs; default on in production.")
    api_max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest API request body (413 above); webhooks have their own.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; empty believes none (the peer is the client).",
    )
    login_backoff_max_seconds: int = Field(
        60,
        ge=1,
        description="After 3 failed logins in a row an account waits 1, 2, 4 … seconds, at most "
        "this, before its next try from anywhere (the right password then passes).",
    )
    webhook_allow_cookies: bool = Field(
        False,
        description="Let webhook answers set cookies (never Wirework's own). Only when webhooks are "
        "served from an origin of their own: cookies set on the UI's origin can crowd out its session.",
    )
    chain_max_depth: int = Field(
        10,
        ge=1,
        le=1000,
        description="How deep a chain of runs may go: each sub-workflow call, event-triggered run "
        "and error workflow is one link from the run that started it; deeper runs are refused.",
    )
    chain_max_runs: int = Field(
        1000,
        ge=1,
        description="How many runs one chain (everything a first run leads to through sub-workflows, "
        "events and error workflows) may start in all; further runs are refused.",
    )
    execution_max_claim_failures: int = Field(
        3,
        ge=1,
        le=100,
        description="How many attempts to run an execution may crash (or lose their process) before a "
        "node finishes; then it is marked failed with the reason instead of retried.",
    )
    executions_failed_max_age_days: int = Field(
        0,
        ge=0,
        description="Failed and cancelled executions older than this are deleted; 0 means "
        "WIREWORK_EXECUTIONS_MAX_AGE_DAYS (7 there and 30 here: successful runs a week, failed a month).",
    )
    executions_keep_successful: bool = Field(
        True,
        description="false keeps only failed and cancelled runs: a completed execution is deleted by the "
        "first retention pass 5 minutes after it was accepted. A workflow's settings may say otherwise.",
    )
    retention_interval_s: int = Field(
        60,
        ge=1,
        description="How often a retention pass runs (on one process of the cluster at a time); often "
        "enough that each pass has little to delete.",
    )
    database_outage_wait_s: float = Field(
        30.0,
        ge=0,
        description="How long a write waits for an unreachable database (sent again with back-off) "
        "before it fails: a restart shorter than this pauses running executions instead of failing them.",
    )
    webhook_database_wait_s: float = Field(
        5.0,
        gt=0,
        description="How long a webhook call waits for an unreachable database before it answers 503 "
        "with Retry-After (the caller should retry with the same Idempotency-Key).",
    )
    webhook_idempotency_window_s: int = Field(
        86_400,
        ge=1,
        description="A webhook call repeating an earlier call's Idempotency-Key within this many seconds "
        "gets that call's execution instead of a new one.",
    )
    worker_metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="`wirework worker` serves Prometheus metrics on this port (127.0.0.1 unless "
        "WIREWORK_HOST says otherwise); 0 serves none.",
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Telegram Bot API base URL (a local Bot API server, tests)."
    )
    slack_api_url: str = Field("https://slack.com", description="Slack Web API base URL (…/api/<method>).")
    discord_api_url: str = Field("https://discord.com/api/v10", description="Discord REST API base URL.")
    whatsapp_api_url: str = Field(
        "https://graph.facebook.com", description="Meta Graph API base URL for the WhatsApp Cloud API."
    )
    channel_max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest delivery a chat platform may post to a bot's inbound URL (413 above).",
    )
    web_chat_max_sockets: int = Field(
        10_000,
        ge=1,
        description="Public web-chat sockets one server process holds at once, all bots together; "
        "more are closed with 1013 (try again later).",
    )
    web_chat_max_sockets_per_ip: int = Field(
        100,
        ge=1,
        description="Public web-chat sockets one client address may hold in one server process, all "
        "bots together (a bot's web_chat_sockets_per_ip may set less); more are closed with 4429.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @model_validator(mode="after")
    def _refuse_weak_production(self) -> Settings:
        problems = self.production_problems() if self.env == "production" else []
        if problems:
            raise ValueError("WIREWORK_ENV=production refuses this set-up:\n- " + "\n- ".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """What makes this configuration unsafe to serve in production, each saying what to set.
        (A key file others can read is refused where it is read: `vault_keys`.)"""
        problems = []
        if self.secret_key and len(self.secret_key) < 32:
            problems.append("WIREWORK_SECRET_KEY must be at least 32 characters")
        if not self.public_url:
            problems.append(
                "set WIREWORK_PUBLIC_URL to the URL users reach Wirework at (e.g. "
                "https://wirework.example.com): invitation links and webhook URLs are built from it"
            )
        elif self.public_url.lower().startswith("https://") and not self.cookie_secure:
            problems.append(
                "set WIREWORK_COOKIE_SECURE=true: WIREWORK_PUBLIC_URL is https, and a session cookie "
                "without Secure would also be sent over plain HTTP"
            )
        if self.uses_sqlite and self.broker_url:
            problems.append(
                "SQLite serves one process, but WIREWORK_BROKER_URL (worker mode) runs several: set "
                "WIREWORK_DATABASE_URL to PostgreSQL or MySQL/MariaDB, or unset WIREWORK_BROKER_URL"
            )
        return problems

    @property
    def uses_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def docs_are_public(self) -> bool:
        return self.env != "production" if self.public_docs is None else self.public_docs

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'wirework.db'}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def vault_secret(self) -> str:
        return self.vault_keys()[0]

    def vault_keys(self) -> tuple[str, list[str]]:
        """The key credentials are sealed with, and the previous keys still accepted for opening
        (`WIREWORK_SECRET_KEY_PREVIOUS`, then the data dir's previous-keys file). In production a
        key file other users can read is refused (VaultError), elsewhere made 0600."""
        from wirework.security.vault import load_or_create_key_file, read_previous_keys

        strict = self.env == "production"
        current = self.secret_key or load_or_create_key_file(self.data_dir, strict=strict)
        previous = [k.strip() for k in self.secret_key_previous.split(",") if k.strip()]
        return current, previous + read_previous_keys(self.data_dir, strict=strict)

    @property
    def json_logs(self) -> bool:
        return self.env == "production" if self.log_json is None else self.log_json


@lru_cache
def get_settings() -> Settings:
    return Settings()
