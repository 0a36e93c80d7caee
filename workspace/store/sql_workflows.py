"""``WorkflowRepository`` on SQLAlchemy Core (workflows, drafts, versions)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from workspace.domain.graph import WorkflowGraph
from workspace.domain.workflow import Draft, Version, Workflow, utcnow
from workspace.errors import ConflictError, NotFoundError
from workspace.store._codec import time_result, utc
from workspace.store.engine import AnyRow, Database, IntegrityViolation, dialect_insert
from workspace.store.tables import drafts, versions, workflows

__all__ = ["SqlWorkflowRepository"]


def _graph_json(graph: WorkflowGraph) -> dict[str, Any]:
    return graph.model_dump(mode="json")


def _workflow(row: AnyRow) -> Workflow:
    return Workflow(
        id=row.id,
        slug=row.slug,
        name=row.name,
        description=row.description,
        tags=tuple(row.tags or ()),
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _version(row: AnyRow) -> Version:
    return Version(
        workflow_id=row.workflow_id,
        number=row.number,
        graph=WorkflowGraph.model_validate(row.graph),
        content_hash=row.content_hash,
        dsl=row.dsl,
        author=row.author,
        message=row.message,
        created_at=row.created_at,
    )


_WORKFLOW_COLUMNS = (
    workflows.c.id,
    workflows.c.slug,
    workflows.c.name,
    workflows.c.description,
    workflows.c.tags,
    workflows.c.owner,
    workflows.c.created_at,
    workflows.c.updated_at,
)


#: a workflow row's latest version number (NULL: never published)
_LATEST = (
    select(func.max(versions.c.number))
    .where(versions.c.workflow_id == workflows.c.id)
    .scalar_subquery()
    .label("latest")
)


def _with_latest(row: AnyRow) -> tuple[Workflow, int | None]:
    return _workflow(row), (None if row.latest is None else int(row.latest))


#: ``find_latest`` runs for every run started (webhooks, schedules, ``ws.run``): pre-written
#: SQL through ``Database.raw``, a quarter of what the SQLAlchemy Core statement costs
_FIND_LATEST = (
    f"SELECT {', '.join(c.name for c in _WORKFLOW_COLUMNS)}, "
    f"(SELECT MAX(v.number) FROM {versions.name} v WHERE v.workflow_id = w.id) "
    f"FROM {workflows.name} w WHERE w.slug = :slug"
)


class SqlWorkflowRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, workflow: Workflow) -> Workflow:
        stored = workflow.model_copy(
            update={"created_at": utc(workflow.created_at), "updated_at": utc(workflow.updated_at)}
        )
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(workflows).values(
                        id=stored.id,
                        slug=stored.slug,
                        name=stored.name,
                        description=stored.description,
                        tags=list(stored.tags),
                        owner=stored.owner,
                        latest_version=0,
                        created_at=stored.created_at,
                        updated_at=stored.updated_at,
                    )
                )
        except IntegrityViolation:
            if self.find(workflow.slug) is not None:
                raise ConflictError(
                    f"a workflow with slug {workflow.slug!r} already exists", slug=workflow.slug
                ) from None
            raise ConflictError(
                f"a workflow with id {workflow.id!r} already exists", id=workflow.id
            ) from None
        return stored

    def get(self, slug: str) -> Workflow:
        found = self.find(slug)
        if found is None:
            raise NotFoundError(f"workflow {slug!r} not found", slug=slug)
        return found

    def get_by_id(self, workflow_id: str) -> Workflow:
        with self._db.read() as conn:
            row = conn.execute(
                select(*_WORKFLOW_COLUMNS).where(workflows.c.id == workflow_id)
            ).first()
        if row is None:
            raise NotFoundError(f"workflow id {workflow_id!r} not found", id=workflow_id)
        return _workflow(row)

    def find(self, slug: str) -> Workflow | None:
        with self._db.read() as conn:
            row = conn.execute(select(*_WORKFLOW_COLUMNS).where(workflows.c.slug == slug)).first()
        return None if row is None else _workflow(row)

    def find_latest(self, slug: str) -> tuple[Workflow, int | None] | None:
        db = self._db
        with db.raw(write=False) as cur:
            cur.execute(db.sql(_FIND_LATEST), {"slug": slug})
            row = cur.fetchone()
        if row is None:
            return None
        wf_id, wf_slug, name, description, tags, owner, created, updated, latest = row
        workflow = Workflow(
            id=wf_id,
            slug=wf_slug,
            name=name,
            description=description,
            tags=tuple(db.json_result(tags) or ()),
            owner=owner,
            created_at=time_result(created),
            updated_at=time_result(updated),
        )
        return workflow, None if latest is None else int(latest)

    def list_latest(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[tuple[Workflow, int | None]]:
        query = select(*_WORKFLOW_COLUMNS, _LATEST).order_by(workflows.c.slug)
        if owner is not None:
            query = query.where(workflows.c.owner == owner)
        query = query.limit(max(0, limit)).offset(max(0, offset))
        with self._db.read() as conn:
            return [_with_latest(row) for row in conn.execute(query)]

    def list(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Workflow]:
        query = select(*_WORKFLOW_COLUMNS).order_by(workflows.c.slug)
        if owner is not None:
            query = query.where(workflows.c.owner == owner)
        query = query.limit(max(0, limit)).offset(max(0, offset))
        with self._db.read() as conn:
            return [_workflow(row) for row in conn.execute(query)]

    def update(self, workflow: Workflow) -> Workflow:
        now = utcnow()
        with self._db.write() as conn:
            row = conn.execute(
                update(workflows)
                .where(workflows.c.id == workflow.id)
                .values(
                    name=workflow.name,
                    description=workflow.description,
                    tags=list(workflow.tags),
                    owner=workflow.owner,
                    updated_at=now,
                )
                .returning(*_WORKFLOW_COLUMNS)
            ).first()
        if row is None:
            raise NotFoundError(f"workflow id {workflow.id!r} not found", id=workflow.id)
        return _workflow(row)

    def delete(self, slug: str) -> None:
        with self._db.write() as conn:
            workflow_id = conn.execute(
                select(workflows.c.id).where(workflows.c.slug == slug)
            ).scalar()
            if workflow_id is None:
                raise NotFoundError(f"workflow {slug!r} not found", slug=slug)
            conn.execute(delete(versions).where(versions.c.workflow_id == workflow_id))
            conn.execute(delete(drafts).where(drafts.c.workflow_id == workflow_id))
            conn.execute(delete(workflows).where(workflows.c.id == workflow_id))

    # --- drafts -----------------------------------------------------------------------------

    def save_draft(
        self,
        workflow_id: str,
        graph: WorkflowGraph,
        dsl: str | None = None,
        *,
        author: str | None = None,
    ) -> Draft:
        draft = Draft(
            workflow_id=workflow_id, graph=graph, dsl=dsl, updated_at=utcnow(), author=author
        )
        values = {
            "graph": _graph_json(graph),
            "dsl": dsl,
            "updated_at": draft.updated_at,
            "author": author,
        }
        stmt = dialect_insert(self._db.dialect, drafts).values(workflow_id=workflow_id, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[drafts.c.workflow_id], set_=values)
        try:
            with self._db.write() as conn:
                conn.execute(stmt)
        except IntegrityViolation:
            raise NotFoundError(f"workflow id {workflow_id!r} not found", id=workflow_id) from None
        return draft

    def get_draft(self, workflow_id: str) -> Draft | None:
        with self._db.read() as conn:
            row = conn.execute(select(drafts).where(drafts.c.workflow_id == workflow_id)).first()
        if row is None:
            return None
        return Draft(
            workflow_id=row.workflow_id,
            graph=WorkflowGraph.model_validate(row.graph),
            dsl=row.dsl,
            updated_at=row.updated_at,
            author=row.author,
        )

    # --- versions ---------------------------------------------------------------------------

    def add_version(self, version: Version) -> Version:
        with self._db.write() as conn:
            # The counter row is locked by the UPDATE until commit: concurrent publishers of
            # one workflow get consecutive numbers, never the same one.
            number = conn.execute(
                update(workflows)
                .where(workflows.c.id == version.workflow_id)
                .values(latest_version=workflows.c.latest_version + 1)
                .returning(workflows.c.latest_version)
            ).scalar()
            if number is None:
                raise NotFoundError(
                    f"workflow id {version.workflow_id!r} not found", id=version.workflow_id
                )
            stored = version.model_copy(
                update={"number": number, "created_at": utc(version.created_at)}
            )
            conn.execute(
                insert(versions).values(
                    workflow_id=stored.workflow_id,
                    number=stored.number,
                    graph=_graph_json(stored.graph),
                    content_hash=stored.content_hash,
                    dsl=stored.dsl,
                    author=stored.author,
                    message=stored.message,
                    created_at=stored.created_at,
                )
            )
        return stored

    def get_version(self, workflow_id: str, number: int | None = None) -> Version:
        query = select(versions).where(versions.c.workflow_id == workflow_id)
        if number is None:
            query = query.order_by(versions.c.number.desc()).limit(1)
        else:
            query = query.where(versions.c.number == number)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            which = "any version" if number is None else f"version {number}"
            raise NotFoundError(
                f"workflow id {workflow_id!r} has no {which}", id=workflow_id, number=number
            )
        return _version(row)

    def latest_version_number(self, workflow_id: str) -> int:
        query = select(func.max(versions.c.number)).where(versions.c.workflow_id == workflow_id)
        with self._db.read() as conn:
            number = conn.execute(query).scalar()
        if number is None:
            raise NotFoundError(
                f"workflow id {workflow_id!r} has no version", id=workflow_id, number=None
            )
        return int(number)

    def list_versions(self, workflow_id: str) -> builtins.list[Version]:
        query = (
            select(versions)
            .where(versions.c.workflow_id == workflow_id)
            .order_by(versions.c.number)
        )
        with self._db.read() as conn:
            return [_version(row) for row in conn.execute(query)]
