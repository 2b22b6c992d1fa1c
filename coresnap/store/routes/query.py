"""Queries: the JSON form of the query language, the attribute catalogue and a summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from coresnap.querylang import AggregateOp, Operator
from coresnap.store import aggregate
from coresnap.store.db.models import attributes, groups, objects
from coresnap.store.query import Aggregate, Filter, Query, parse_age
from coresnap.store.routes import API, Ctx, grant, query_slot

# Each route holds a query slot (limits.concurrent_queries): 503 busy when none frees up.
router = APIRouter(
    prefix=API + "/projects/{project}", tags=["query"], dependencies=[Depends(query_slot)]
)


class FilterIn(BaseModel):
    attribute: str = Field(max_length=128)
    op: Operator = Operator.EQUAL
    value: str | float | None = Field(default=None)


class AggregateIn(BaseModel):
    op: AggregateOp
    attribute: str | None = Field(default=None, max_length=128)
    limit: int = Field(default=5, ge=1, le=100)


class QueryIn(BaseModel):
    """A query: filters AND-ed, a time window, a factor (group-by), aggregates, sort, page."""

    filters: list[FilterIn] = Field(default_factory=list, max_length=32)
    age: str | float | None = Field(default=None, description="window: seconds or 1h, 3d, 1w")
    factor: str = Field(default="fingerprint", max_length=128)
    aggregates: list[AggregateIn] = Field(default_factory=list, max_length=16)
    sort: str = Field(default="-count", description="count|first_seen|last_seen|factor, -: desc")
    limit: int = Field(default=20, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    objects: int = Field(default=0, ge=0, le=100, description="most recent objects per bucket")
    buckets: int = Field(default=54, ge=1, le=500, description="histogram buckets")

    def to_query(self) -> Query:
        return Query(
            filters=[
                Filter(f.attribute, f.op.value, None if f.value is None else _text(f.value))
                for f in self.filters
            ],
            age=None if self.age is None else parse_age(self.age),
            factor=self.factor,
            aggregates=[Aggregate(a.op.value, a.attribute, a.limit) for a in self.aggregates],
            sort=self.sort,
            limit=self.limit,
            offset=self.offset,
            objects=self.objects,
            buckets=self.buckets,
        )


def _text(value: str | float) -> str:
    return (
        repr(value)
        if isinstance(value, float) and not value.is_integer()
        else (str(int(value)) if isinstance(value, float) else value)
    )


@router.post("/query", summary="Run a query (filters, factor, aggregates) in the database")
def post_query(project: str, body: QueryIn, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    return aggregate.run(ctx.engine, g.project_id, body.to_query())


@router.get("/attributes", summary="The attribute catalogue: each key, its objects and values")
def get_attributes(project: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    stmt = (
        select(
            attributes.c.key,
            func.count(attributes.c.object_id.distinct()),
            func.count(attributes.c.value_text.distinct()),
            func.count(attributes.c.value_num),
        )
        .join(objects, objects.c.id == attributes.c.object_id)
        .where(objects.c.project_id == g.project_id)
        .group_by(attributes.c.key)
        .order_by(attributes.c.key)
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return {
        "attributes": [
            {"name": k, "objects": n, "values": u, "numeric": num == n} for k, n, u, num in rows
        ]
    }


@router.get("/summary", summary="Counts: objects, groups by state, blobs kept, time range")
def get_summary(project: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    pid = g.project_id
    with ctx.engine.connect() as conn:
        n, kept, size, lo, hi = conn.execute(
            select(
                func.count(),
                func.count().filter(objects.c.blob_kept),
                func.coalesce(func.sum(objects.c.size), 0),
                func.min(objects.c.timestamp),
                func.max(objects.c.timestamp),
            ).where(objects.c.project_id == pid)
        ).one()
        states = conn.execute(
            select(groups.c.state, func.count())
            .where(groups.c.project_id == pid, groups.c.merged_into.is_(None), groups.c.count > 0)
            .group_by(groups.c.state)
        ).all()
    return {
        "project": project,
        "objects": n,
        "blobs_kept": kept,
        "bytes": size,
        "first": lo,
        "last": hi,
        "groups": {state: count for state, count in states},
    }
