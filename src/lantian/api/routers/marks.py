"""Enterprise marks (标记) over HTTP: list, add (enterprise or O&M, in scope), review (regulator).

Entry and review go through :func:`lantian.ledger.marks.submit_mark` and
:func:`~lantian.ledger.marks.review_mark`, which apply the entry deadline, the no-overlap
rule and the annual cap, and write the audit log (who = the account name). The engine
honours only accepted marks. Times are China Standard Time wall-clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from lantian.api.auth import Role
from lantian.api.deps import Database, Db, User, require_principal, scoped
from lantian.api.export import TableFormat, respond
from lantian.api.params import Fmt
from lantian.api.problems import Problem
from lantian.api.queries import Rows
from lantian.errors import ConfigurationError, LedgerRuleError, NotFoundError

__all__ = ["MarkDecision", "NewMark", "marks_in_scope", "router"]

router = APIRouter(prefix="/api/marks", tags=["ledgers: marks"],
                   dependencies=[Depends(require_principal)])
MarkId = Annotated[int, Path(ge=1, le=2**62)]
Status = Annotated[Literal["pending", "accepted", "rejected"] | None, Query()]

_LIST = ("SELECT m.id, o.enterprise_id, e.name AS enterprise, m.outlet_id, o.name AS outlet, "
         "m.mn, m.kind, m.start_ts AS start, m.end_ts AS \"end\", m.status, m.reason, "
         "m.entered_by, m.entered_at, m.reviewed_by, m.reviewed_at, m.review_note "
         "FROM enterprise_mark m JOIN outlet o ON o.id = m.outlet_id "
         "JOIN enterprise e ON e.id = o.enterprise_id "
         "WHERE m.outlet_id IN (SELECT id FROM vis_out)")


class NewMark(BaseModel):
    """A period [start, end) of an outlet marked as stopped, starting, faulty… (CST)."""

    model_config = ConfigDict(extra="forbid")
    outlet_id: int | None = Field(default=None, ge=1, le=2**62)
    mn: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[\w-]+$")
    kind: Literal["stopped", "starting", "shutting_down", "faulty", "maintenance"]
    start: dt.datetime
    end: dt.datetime
    reason: str = Field(min_length=1, max_length=500)


class MarkDecision(BaseModel):
    """A regulator's decision on a pending mark (a rejection needs a note)."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["accepted", "rejected"]
    note: str = Field(default="", max_length=500)


def marks_in_scope(db: Database, user: Any, status: str | None = None,
                   mark_id: int | None = None) -> Rows:
    """Return the marks of outlets the caller may see, newest first."""
    sql, params = _LIST, list[Any]()
    if status is not None:
        sql += " AND m.status = ?"
        params.append(status)
    if mark_id is not None:
        sql += " AND m.id = ?"
        params.append(mark_id)
    q, args = scoped(user, sql + " ORDER BY m.start_ts DESC, m.id DESC", params)
    with db.cursor() as cur:
        return Rows.fetch(cur, q, args)


def _target_visible(db: Database, user: Any, body: NewMark) -> bool:
    """Whether the outlet (or the point's outlet) of a new mark is in the caller's scope.

    An O&M account sees only its points, so it names the point by ``mn``.
    """
    params: list[Any]
    if body.mn is not None:
        sql, params = "SELECT 1 FROM vis_pt WHERE mn = ?", [body.mn]
        if body.outlet_id is not None:
            sql += " AND mn IN (SELECT mn FROM monitoring_point WHERE outlet_id = ?)"
            params.append(body.outlet_id)
    else:
        sql, params = "SELECT 1 FROM vis_out WHERE id = ?", [body.outlet_id]
    q, args = scoped(user, sql, params)
    with db.cursor() as cur:
        return cur.execute(q, args).fetchone() is not None


@router.get("", summary="Enterprise marks in scope")
def list_marks(db: Db, user: User, status: Status = None,
               fmt: Fmt = TableFormat.json) -> Response:
    """List marks of visible outlets (start/end CST), with review state."""
    return respond(marks_in_scope(db, user, status), fmt, "enterprise_marks", db, user)


@router.post("", status_code=201, summary="Enter a mark (enterprise or O&M account, in scope)")
def add_mark(body: NewMark, db: Db, user: User) -> dict[str, Any]:
    """Enter a mark for an outlet (``outlet_id``) or point (``mn``) in scope; it waits for review.

    Enterprise accounts mark their own outlets, O&M accounts their assigned points; regulators
    review and never enter marks (403).
    """
    from lantian.ledger.marks import submit_mark

    if user.role not in (Role.enterprise, Role.maintainer, Role.admin):
        raise Problem(403, "only enterprise and O&M accounts enter marks, in their own scope")
    if body.outlet_id is None and body.mn is None:
        raise Problem(422, "give outlet_id or mn")
    if not _target_visible(db, user, body):
        raise Problem(404, "outlet or monitoring point not found (or outside your scope)")
    start, end = body.start.replace(tzinfo=None), body.end.replace(tzinfo=None)
    try:
        with db.cursor() as cur:
            mark_id = submit_mark(cur, kind=body.kind, start=start, end=end,
                                  reason=body.reason, who=user.name, outlet_id=body.outlet_id,
                                  mn=body.mn)
    except (ConfigurationError, LedgerRuleError) as exc:
        raise Problem(422, str(exc)) from exc
    return {"id": mark_id, "status": "pending"}


@router.post("/{mark_id}/review", summary="Accept or reject a pending mark (regulator in scope)")
def review(mark_id: MarkId, body: MarkDecision, db: Db, user: User) -> dict[str, Any]:
    """Record the decision; an enterprise can never review marks, its own or others'."""
    from lantian.ledger.marks import review_mark

    if user.role not in (Role.regulator, Role.admin):
        raise Problem(403, "only a regulator reviews marks")
    if not marks_in_scope(db, user, mark_id=mark_id).rows:
        raise Problem(404, f"mark {mark_id} not found (or outside your scope)")
    try:
        with db.cursor() as cur:
            review_mark(cur, mark_id, body.decision, user.name, body.note)
    except NotFoundError as exc:
        raise Problem(404, str(exc)) from exc
    except LedgerRuleError as exc:
        raise Problem(409, str(exc)) from exc
    except ConfigurationError as exc:
        raise Problem(422, str(exc)) from exc
    return {"id": mark_id, "status": body.decision}
