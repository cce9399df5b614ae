"""The `wirework` command: serve, worker, db, user, workflow, execution, secrets, version."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from wirework import __version__
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.security.datadir import private_umask, secure_data_dir
from wirework.settings import Settings, get_settings

T = TypeVar("T")

app = typer.Typer(
    help="Wirework: workflow automation (versioned workflows, triggers, durable executions, "
    "encrypted credentials, worker mode).",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database: migrations, schema doc, backup and restore.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
console = Console(stderr=True, soft_wrap=True)


@app.callback()
def _every_command() -> None:
    """Wirework: workflow automation (versioned workflows, triggers, durable executions,
    encrypted credentials, worker mode)."""
    # Whatever a command creates (database, key files, backups, exports) is its user's alone.
    private_umask()


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def _settings() -> Settings:
    """The settings, or a clear error (e.g. what production refuses) instead of a traceback."""
    from pydantic import ValidationError

    try:
        return get_settings()
    except ValidationError as exc:
        messages = [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()]
        raise _fail("\n".join(messages)) from None


def _prepare_data_dir(settings: Settings) -> None:
    """At the start of serve and worker: the data dir 0700 (its database files 0600, saying
    what was looser), and the credential keys readable (a key file others can read is
    refused in production)."""
    try:
        changes = secure_data_dir(settings.data_dir)
    except OSError as exc:
        raise _fail(f"cannot make the data dir private ({settings.data_dir}): {exc}") from None
    for change in changes:
        console.print(f"[yellow]warning:[/yellow] tightened permissions: {change}")
    _vault_keys(settings)


def _with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    settings = _settings()

    async def run() -> T:
        db = Database(settings.effective_database_url, pool_size=2)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except OSError as exc:
        raise _fail(
            f"cannot reach the database ({settings.effective_database_url.split('@')[-1]}): {exc}"
        ) from exc


@app.command()
def version() -> None:
    """Print Wirework's version."""
    typer.echo(__version__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (WIREWORK_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (WIREWORK_PORT).")] = None,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Do not apply migrations at start.")
    ] = False,
) -> None:
    """Serve the API (and web UI) on one process."""
    import uvicorn

    from wirework.app import create_app
    from wirework.bots.webchat import MAX_FRAME as CHAT_MAX_FRAME
    from wirework.http_protocol import BoundedHeadProtocol

    settings = _settings()
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    _prepare_data_dir(settings)
    revision = None if no_migrate else _with_db(_upgrade_to_head)
    users = _with_db(_count_users)
    url = settings.effective_public_url
    # The first line says where to go and what to do there (a new user reads no further).
    if users == 0 and (settings.env != "production" or settings.open_signup):
        console.print(
            f"Wirework {__version__}: open [bold]{url}[/bold] and sign up (the first account becomes admin)"
        )
    else:
        console.print(f"Wirework {__version__}: open [bold]{url}[/bold] and log in")
    if revision is not None:
        console.print(f"database at migration [bold]{revision}[/bold]")
    if users == 0 and settings.env == "production" and not settings.open_signup:
        console.print(
            "No users yet. Create the first one (it becomes admin and owner of the first organization):\n"
            f"  {_self_command()} user create --admin    (in production the first account is not "
            "made over HTTP, so whoever reaches the server first cannot take it)"
        )
    elif users == 0:
        console.print(
            "No users yet. Create the first one (it becomes admin and owner of the first organization):\n"
            f"  {_self_command()} user create --admin    or    curl -X POST {url}/api/v1/auth/signup "
            "-H 'content-type: application/json' "
            '-d \'{"email":"you@example.com","username":"you","password":"a-long-password"}\''
        )
    application = create_app(settings)
    _freeze_heap()
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=BoundedHeadProtocol,  # httptools, with a limit on the request head
        access_log=False,
        log_level="warning",
        proxy_headers=False,  # X-Forwarded-* only from WIREWORK_TRUSTED_PROXIES (the app resolves them)
        ws_max_size=CHAT_MAX_FRAME,  # the web chat's bound, refused as a frame's header arrives (not 16 MB)
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Executions this worker runs at once.")] = 8,
) -> None:
    """Run executions from the broker (WIREWORK_BROKER_URL) on this machine; run as many as you need."""
    import uvloop

    from wirework.queue.worker import run_worker

    settings = _settings()
    _prepare_data_dir(settings)
    console.print(
        f"Wirework worker {__version__}: {concurrency} at once, broker {_redact(settings.broker_url)}"
    )
    _freeze_heap()
    uvloop.run(run_worker(settings, concurrency))


def _freeze_heap() -> None:
    """What is imported and built before serving lives as long as the process: take it out of
    the cyclic collector's sight, so a full collection scans only what the work creates (a
    full collection of the start-up heap, ~180,000 objects, takes ~100 ms: a stall every
    request in flight would wait through)."""
    gc.collect()
    gc.freeze()


def _redact(url: str) -> str:
    """A URL without its password, for printing."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…@{rest.rpartition('@')[2]}" if "@" in rest else url


def _self_command() -> str:
    """How the user can call this command again (the venv's script when it is not on PATH)."""
    import shutil
    import sys

    return "wirework" if shutil.which("wirework") else sys.argv[0]


async def _upgrade_to_head(db: Database) -> str:
    await migrate.upgrade(db)
    return migrate.head_revision()


async def _count_users(db: Database) -> int:
    from wirework.accounts.service import count_users

    async with db.session() as session:
        return await count_users(session)


# ---------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    _with_db(lambda db: migrate.upgrade(db, revision))
    console.print(f"database upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")]) -> None:
    """Undo migrations down to REVISION."""
    _with_db(lambda db: migrate.downgrade(db, revision))
    console.print(f"database downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision and whether it is the newest."""
    status = _with_db(migrate.migration_status)
    typer.echo(f"{status['current'] or '(none)'}{' (head)' if status['at_head'] else ''}")
    if not status["at_head"]:
        console.print(f"newest is {status['head']}: run 'wirework db upgrade'")


@db_app.command("history")
def db_history() -> None:
    """List migrations, newest first."""
    table = Table("revision", "down", "message")
    for script in migrate.history():
        table.add_row(script.revision, str(script.down_revision or ""), script.doc or "")
    Console().print(table)


@db_app.command("doc")
def db_doc(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = Path("docs/schema.md"),
    check: Annotated[bool, typer.Option(help="Fail if the file is out of date instead of writing.")] = False,
) -> None:
    """Write docs/schema.md from the models."""
    from wirework.db.schemadoc import render_schema
    from wirework.models import Base

    text = render_schema(Base.metadata, migrate.head_revision())
    if check:
        if not output.exists() or output.read_text() != text:
            raise _fail(f"{output} is out of date: run 'wirework db doc'")
        console.print(f"{output} is current")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    console.print(f"wrote {output}")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), console=console)


def _progress_callback(progress: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, Any] = {}

    def on_progress(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = progress.add_task(table, total=max(total, 1))
        progress.update(tasks[table], completed=done if total else 1)

    return on_progress


@db_app.command("backup")
def db_backup(file: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz).")]) -> None:
    """Back up every table to a portable archive that restores on any backend."""
    from wirework.db.backup import BackupError, backup
    from wirework.models import Base

    with _progress() as progress:
        try:
            manifest = _with_db(lambda db: backup(db, Base.metadata, file, _progress_callback(progress)))
        except BackupError as exc:
            raise _fail(str(exc)) from exc
    rows = sum(manifest["tables"].values())
    console.print(f"wrote {file}: {rows} rows in {len(manifest['tables'])} tables at {manifest['revision']}")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="Archive made by 'wirework db backup'.")],
    force: Annotated[bool, typer.Option(help="Replace the data of a database that is not empty.")] = False,
) -> None:
    """Restore an archive into this database (empty unless --force)."""
    from wirework.db.backup import BackupError, restore
    from wirework.models import Base

    if not file.exists():
        raise _fail(f"{file} does not exist")
    with _progress() as progress:
        try:
            manifest = _with_db(
                lambda db: restore(
                    db, Base.metadata, file, force=force, on_progress=_progress_callback(progress)
                )
            )
        except BackupError as exc:
            raise _fail(str(exc)) from exc
    console.print(f"restored {sum(manifest['tables'].values())} rows from {file}")


# ---------------------------------------------------------------- user


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(prompt=True, help="Email address.")],
    username: Annotated[str, typer.Option(prompt=True, help="Login name.")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters."),
    ],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an instance admin.")] = False,
    org: Annotated[
        str | None, typer.Option(help="Organization (slug or name) to join as owner; made if missing.")
    ] = None,
) -> None:
    """Create a user, and an organization they own."""
    from pydantic import ValidationError
    from sqlalchemy import or_, select

    from wirework.accounts import service
    from wirework.accounts.models import InstanceRole, Membership, Organization, OrgRole
    from wirework.accounts.schemas import SignupIn
    from wirework.errors import WireworkError

    try:
        data = SignupIn(email=email, username=username, password=password)
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise _fail(problems) from exc

    async def create(db: Database) -> str:
        await migrate.upgrade(db)
        async with db.session() as session:
            user = await service.create_user(
                session,
                email=data.email,
                username=data.username,
                password=data.password,
                role=InstanceRole.admin if admin else InstanceRole.user,
            )
            org_name = org or f"{data.username}'s organization"
            existing = (
                (
                    await session.execute(
                        select(Organization).where(
                            or_(Organization.slug == org_name, Organization.name == org_name)
                        )
                    )
                )
                .scalars()
                .first()
            )
            if existing is None:
                existing = await service.create_organization(session, name=org_name, owner=user)
            else:
                session.add(Membership(org_id=existing.id, user_id=user.id, role=OrgRole.owner))
            await session.commit()
            return f"{existing.name} ({existing.slug})"

    try:
        org_label = _with_db(create)
    except WireworkError as exc:
        raise _fail(exc.detail) from exc
    console.print(
        f"created {'admin ' if admin else ''}user [bold]{data.username}[/bold], owner of {org_label}"
    )


# ---------------------------------------------------------------- workflows and executions

workflow_app = typer.Typer(help="Workflows: import, export, list, run a file.", no_args_is_help=True)
execution_app = typer.Typer(help="Executions: list and show.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")
app.add_typer(execution_app, name="execution")


def _read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise _fail(f"{path} does not exist") from exc
    except ValueError as exc:
        raise _fail(f"{path} is not valid JSON: {exc}") from exc


async def _org_id(session: Any, org: str | None) -> Any:
    from sqlalchemy import or_, select

    from wirework.accounts.models import Organization

    stmt = select(Organization).order_by(Organization.id)
    if org:
        stmt = stmt.where(or_(Organization.slug == org, Organization.name == org))
    found = (await session.execute(stmt)).scalars().first()
    if found is None:
        raise _fail(f"no organization {org!r}" if org else "no organization yet: run 'wirework user create'")
    return found.id


OrgOption = Annotated[str | None, typer.Option(help="Organization slug or name (default: the first).")]


@workflow_app.command("run")
def workflow_run(
    file: Annotated[Path, typer.Argument(help="A workflow export or definition (JSON).")],
    input: Annotated[
        str,
        typer.Option(
            "--input",
            help="Items for the trigger node, as JSON; @file.json reads them from a file, - from stdin "
            "(a large input does not fit in an argument).",
        ),
    ] = "[]",
) -> None:
    """Run a workflow file here, without a server or database; print each node's output items."""
    import json

    from wirework.engine.errors import DefinitionInvalid
    from wirework.engine.nodes import NodeRegistry
    from wirework.engine.runner import run_workflow
    from wirework.nodes import load_builtin_nodes

    data = _read_json(file)
    definition = data.get("definition", data) if isinstance(data, dict) else data
    if input in ("-", "@-"):
        input = sys.stdin.read()
    elif input.startswith("@"):
        try:
            input = Path(input[1:]).read_text()
        except OSError as exc:
            raise _fail(f"--input {input}: cannot read {input[1:]!r} ({exc.strerror or exc})") from exc
    try:
        items = json.loads(input)
    except ValueError as exc:
        raise _fail(f"--input is not valid JSON: {exc}") from exc
    if isinstance(items, dict):
        items = [items]
    registry = load_builtin_nodes(NodeRegistry())
    try:
        result = asyncio.run(run_workflow(definition, items, registry=registry))
    except DefinitionInvalid as exc:
        for error in exc.errors or []:
            console.print(f"[red]{error.get('node_id') or '-'}[/red]: {error['msg']}")
        raise _fail(f"the workflow is invalid: {exc.detail}") from exc
    for node_id in result.runs:
        name = result.graph.nodes[node_id].name
        outputs = {k: v for k, v in result.outputs.get(node_id, {}).items() if not k.startswith("$")}
        typer.echo(json.dumps({"node": name, "outputs": outputs}, ensure_ascii=False, default=str))
    if result.status != "completed":
        message = result.error.message if result.error else result.status
        where = f" at {result.error.node_name!r}" if result.error and result.error.node_name else ""
        raise _fail(f"the execution {result.status}{where}: {message}")


@workflow_app.command("import")
def workflow_import(
    file: Annotated[Path, typer.Argument(help="A workflow export (JSON).")], org: OrgOption = None
) -> None:
    """Create a workflow from an export file."""
    from wirework.engine.nodes import NodeRegistry
    from wirework.errors import WireworkError
    from wirework.nodes import load_builtin_nodes
    from wirework.workflows import service
    from wirework.workflows.schemas import WorkflowExport

    try:
        data = WorkflowExport.model_validate(_read_json(file))
    except ValueError as exc:
        raise _fail(f"{file} is not a workflow export: {exc}") from exc

    async def create(db: Database) -> str:
        async with db.session() as session:
            workflow = await service.create_workflow(
                session,
                org_id=await _org_id(session, org),
                user_id=None,
                name=data.name,
                description=data.description,
                tags=data.tags,
                definition=data.definition,
                registry=load_builtin_nodes(NodeRegistry()),
            )
            await session.commit()
            return str(workflow.id)

    try:
        typer.echo(_with_db(create))
    except WireworkError as exc:
        raise _fail(exc.detail) from exc


@workflow_app.command("export")
def workflow_export(
    workflow_id: Annotated[str, typer.Argument(help="Workflow id.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File (default: stdout).")] = None,
) -> None:
    """Write a workflow's current version as an export file."""
    import json
    import uuid

    from wirework.workflows import service
    from wirework.workflows.models import Workflow

    async def export(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            workflow = await session.get(Workflow, uuid.UUID(workflow_id))
            if workflow is None:
                raise _fail(f"workflow {workflow_id} not found")
            version = await service.get_version(session, workflow)
            return {
                "name": workflow.name,
                "description": workflow.description,
                "tags": workflow.tags,
                "definition": version.definition,
            }

    text = json.dumps(_with_db(export), indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n")
    else:
        typer.echo(text)


@workflow_app.command("list")
def workflow_list(org: OrgOption = None) -> None:
    """List the workflows of an organization."""
    from wirework.db.scoping import scoped
    from wirework.workflows.models import Workflow

    async def rows(db: Database) -> list[Workflow]:
        async with db.session() as session:
            stmt = scoped(Workflow, await _org_id(session, org)).order_by(Workflow.name)
            return list((await session.execute(stmt)).scalars())

    table = Table("id", "name", "version", "active", "tags")
    for workflow in _with_db(rows):
        table.add_row(
            str(workflow.id),
            workflow.name,
            str(workflow.version),
            "yes" if workflow.is_active else "",
            ", ".join(workflow.tags),
        )
    Console().print(table)


@execution_app.command("list")
def execution_list(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's executions.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, running, waiting, completed, failed, cancelled")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
) -> None:
    """List executions, newest first."""
    import uuid

    from sqlalchemy import select

    from wirework.engine.models import Execution

    async def rows(db: Database) -> list[Execution]:
        stmt = select(Execution).order_by(Execution.id.desc()).limit(limit)
        if workflow:
            stmt = stmt.where(Execution.workflow_id == uuid.UUID(workflow))
        if status:
            stmt = stmt.where(Execution.status == status)
        async with db.session() as session:
            return list((await session.execute(stmt)).scalars())

    table = Table("id", "workflow", "status", "trigger", "created", "error")
    for e in _with_db(rows):
        table.add_row(
            str(e.id),
            str(e.workflow_id),
            e.status.value,
            e.trigger_type.value,
            e.created_at.isoformat(timespec="seconds"),
            (e.error or "")[:60],
        )
    Console().print(table)


@execution_app.command("show")
def execution_show(execution_id: Annotated[str, typer.Argument(help="Execution id.")]) -> None:
    """Print an execution and each node run as JSON."""
    import json
    import uuid

    from sqlalchemy import select

    from wirework.engine.models import Execution, ExecutionLog

    async def load(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            execution = await session.get(Execution, uuid.UUID(execution_id))
            if execution is None:
                raise _fail(f"execution {execution_id} not found")
            logs = await session.execute(
                select(ExecutionLog)
                .where(ExecutionLog.execution_id == execution.id)
                .order_by(ExecutionLog.id)
            )
            return {
                "id": str(execution.id),
                "workflow_id": str(execution.workflow_id),
                "status": execution.status.value,
                "error": execution.error,
                "nodes": [
                    {
                        "node": log.node_name,
                        "attempt": log.attempt,
                        "status": log.status.value,
                        "output": log.output_data,
                        "error": log.error,
                    }
                    for log in logs.scalars()
                ],
            }

    typer.echo(json.dumps(_with_db(load), indent=2, ensure_ascii=False, default=str))


# ---------------------------------------------------------------- secrets (credential keys)

secrets_app = typer.Typer(
    help="The key credentials are encrypted with: rotate it, see which keys are in use.",
    no_args_is_help=True,
)
app.add_typer(secrets_app, name="secrets")


def _keys_where(settings: Settings) -> tuple[str, str]:
    """Where the current key and the previous keys are configured, for messages."""
    from wirework.security.vault import KEY_FILE_NAME, PREVIOUS_KEYS_FILE_NAME

    previous = f"{settings.data_dir / PREVIOUS_KEYS_FILE_NAME}"
    if settings.secret_key:
        return "WIREWORK_SECRET_KEY", f"WIREWORK_SECRET_KEY_PREVIOUS (or {previous})"
    return f"{settings.data_dir / KEY_FILE_NAME}", previous


def _vault_keys(settings: Settings) -> tuple[str, list[str]]:
    from wirework.security.vault import VaultError

    try:
        return settings.vault_keys()
    except VaultError as exc:
        raise _fail(str(exc)) from None


def _vault(settings: Settings) -> Any:
    from wirework.security.vault import Vault

    current, previous = _vault_keys(settings)
    return Vault(current, old_secrets=previous)


@secrets_app.command("rotate")
def secrets_rotate(
    new_key: Annotated[
        str | None,
        typer.Option(
            "--new-key",
            help="The new key, at least 32 characters (default: a random one). Only for the data "
            "dir's key file; with WIREWORK_SECRET_KEY, set the new key there instead.",
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Credentials resealed per transaction.")] = 100,
) -> None:
    """Encrypt every credential with a new key (resumable).

    The old key stays accepted for opening until every credential is resealed; interrupted,
    run it again and it continues where it stopped."""
    from wirework.security.vault import key_id, new_secret, replace_key_file
    from wirework.workflows import service

    settings = _settings()
    key_at, previous_at = _keys_where(settings)
    vault = _vault(settings)
    _require_current_schema()
    pending = _with_db(lambda db: _count_to_reseal(db, vault))
    if pending:
        if new_key:
            raise _fail(
                f"{pending} credentials are still sealed with an older key: run "
                "'wirework secrets rotate' without --new-key to finish that rotation first"
            )
        console.print(f"{pending} credentials are sealed with an older key; resealing (key {vault.key_id})")
    elif settings.secret_key:
        raise _fail(
            f"every credential is already sealed with the key in WIREWORK_SECRET_KEY (id {vault.key_id}). "
            "To rotate it: on every serve and worker, set WIREWORK_SECRET_KEY to a new key (32 characters "
            "or more) and add the current one to WIREWORK_SECRET_KEY_PREVIOUS; restart them; then run "
            "'wirework secrets rotate' again to reseal."
        )
    else:
        secret = new_key or new_secret()
        if len(secret) < 32:
            raise _fail("--new-key must be at least 32 characters")
        old_id = vault.key_id
        replace_key_file(settings.data_dir, secret)
        vault = _vault(settings)
        console.print(f"new key {key_id(secret)} in {key_at}; the old key {old_id} is kept in {previous_at}")

    with _progress() as progress:
        task = progress.add_task("resealing credentials", total=max(pending, 1))

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(total, 1))

        async def reseal(db: Database) -> tuple[Any, int]:
            result = await service.reseal_all(db, vault, batch=batch, on_progress=on_progress)
            return result, await _count_to_reseal(db, vault)

        result, left = _with_db(reseal)
        progress.update(task, completed=progress.tasks[0].total)
    for credential_id, name, why in result.unreadable:
        console.print(f"[red]cannot open[/red] credential {name!r} ({credential_id}): {why}")
    if result.unreadable:
        raise _fail(
            f"{len(result.unreadable)} credentials are sealed with a key that is not configured: add "
            f"that key to {previous_at} and run 'wirework secrets rotate' again"
        )
    if left:
        raise _fail(
            f"{left} credentials were sealed with an older key while this ran (a serve or worker still "
            "on the old key): run 'wirework secrets rotate' again"
        )
    console.print(
        f"every credential is sealed with key {vault.key_id} ({result.resealed} resealed now). Running "
        "serve and worker processes pick the new key up when they first open a credential sealed "
        "with it; restart them to be sure they seal with it too. Once they are restarted and "
        "'wirework secrets status' shows no credential on an old key, remove the old keys from "
        f"{previous_at}."
    )


def _require_current_schema() -> None:
    status = _with_db(migrate.migration_status)
    if not status["at_head"]:
        raise _fail(
            f"the database is at migration {status['current'] or 'nothing'}, not {status['head']}: "
            "run 'wirework db upgrade' (or start 'wirework serve') first"
        )


async def _count_to_reseal(db: Database, vault: Any) -> int:
    from wirework.workflows import service

    async with db.session() as session:
        return await service.count_to_reseal(session, vault)


@secrets_app.command("status")
def secrets_status() -> None:
    """Show the credential keys and how many credentials each one seals."""
    from wirework.security.vault import key_id
    from wirework.workflows import service

    settings = _settings()
    key_at, previous_at = _keys_where(settings)
    current, previous = _vault_keys(settings)
    _require_current_schema()

    async def counts(db: Database) -> dict[str, int]:
        async with db.session() as session:
            return await service.credentials_by_key(session)

    by_key = _with_db(counts)
    on_old = sum(n for kid, n in by_key.items() if kid != key_id(current))
    on_current = by_key.pop(key_id(current), 0)
    table = Table("key id", "role", "where", "credentials")
    table.add_row(key_id(current), "current", key_at, str(on_current))
    for secret in previous:
        table.add_row(key_id(secret), "previous", previous_at, str(by_key.pop(key_id(secret), 0)))
    for kid, count in by_key.items():
        table.add_row(kid or "?", "not configured", "", str(count))
    Console().print(table)
    if on_old:
        console.print(f"{on_old} credentials need an old key: run 'wirework secrets rotate'")
    elif previous:
        console.print(
            "no credential needs the previous keys: once every serve and worker has been restarted "
            f"since the rotation, remove them from {previous_at}"
        )
