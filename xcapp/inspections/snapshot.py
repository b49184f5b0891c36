"""The item save's own read of one record: the hot path of the whole app (issue 11).

An officer's tap on a checklist item locks the record, reads what the save checks and
what its answer shows (the record, its task and officers with their signatures, the
answers, the item-12 rows), and writes the answer, its receipt and its audit row. Read
through the ORM's eager loading, the same record cost more CPU than everything else in
the request together; here it is four Core statements into plain read-only copies shaped
like the models, which ``services.status`` and the checklist's save blocks read the same
way. Every other use case keeps the ORM objects.

The reads and the receipt go to the database as one batch, the writes as another
(``db_batch``: one round trip each on PostgreSQL).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, String, and_, bindparam, select, update

from ..db_batch import Batch, Pending, Statement
from ..db_setup import begin_write, dialect_insert
from ..extensions import db
from ..plans.models import Task, TaskOfficer
from ..registry.models import Officer
from .models import Answer, ExtraRow, Inspection, RecordReading, Signature
from .services import RECEIPT

INSPECTION, TASK, PLACE, OFFICER = Inspection.__table__, Task.__table__, TaskOfficer.__table__, Officer.__table__
ANSWER, EXTRA_ROW, SIGNATURE = Answer.__table__, ExtraRow.__table__, Signature.__table__


@dataclass(slots=True)
class OfficerView:
    name: str
    user_id: int | None


@dataclass(slots=True)
class PlaceView:
    """An officer's place on the task (``TaskOfficer``)."""

    officer_id: int
    cert_no: str
    active: bool
    officer: OfficerView


@dataclass(slots=True)
class SignatureView:
    id: int
    officer_id: int
    certificate_shown: bool
    voided_at: datetime | None


@dataclass(slots=True)
class AnswerView:
    id: int | None
    item_no: int
    record: str = ""
    conclusion: str = ""
    remark: str = ""
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str = ""
    updated_by_name: str = ""


@dataclass(slots=True)
class TaskView:
    id: int
    code: str
    state: str
    first_answer_at: datetime | None
    unit_id: int
    officers: list[PlaceView]

    @property
    def active_officers(self) -> list[PlaceView]:
        return [o for o in self.officers if o.active]


class RecordView(RecordReading):
    """One inspection's columns as attributes, with its task, answers, item-12 rows and
    signatures; read-only (the save writes by statements of its own)."""

    __tablename__ = "inspection"   # what the audit row names

    def __init__(self, row, task: TaskView, answers: list[AnswerView], extra_rows: list, signatures: list):
        self.__dict__.update(row._asdict())
        self.task, self.answers, self.extra_rows, self.signatures = task, answers, extra_rows, signatures


# Built once: building a statement costs more CPU than running it.
_RECORD = select(INSPECTION).where(INSPECTION.c.id == bindparam("record_id")).with_for_update(of=INSPECTION)
# The task with its officers and each one's signature on this record (at most one:
# unique per record and officer). Sent after the locking statement, in the same batch:
# the server runs it after the lock was granted (a row joined to the locking statement
# could be as it was before).
_TASK = (select(TASK.c.id, TASK.c.code, TASK.c.state, TASK.c.first_answer_at, TASK.c.unit_id,
                PLACE.c.officer_id, PLACE.c.cert_no, PLACE.c.active, OFFICER.c.name, OFFICER.c.user_id,
                SIGNATURE.c.id.label("signature_id"), SIGNATURE.c.certificate_shown, SIGNATURE.c.voided_at)
         .select_from(TASK.outerjoin(PLACE, PLACE.c.task_id == TASK.c.id)
                      .outerjoin(OFFICER, OFFICER.c.id == PLACE.c.officer_id)
                      .outerjoin(SIGNATURE, and_(SIGNATURE.c.inspection_id == bindparam("record_id"),
                                                 SIGNATURE.c.officer_id == PLACE.c.officer_id)))
         .where(TASK.c.id == select(INSPECTION.c.task_id).where(INSPECTION.c.id == bindparam("record_id"))
                .scalar_subquery())
         .order_by(PLACE.c.id))
_ANSWERS = select(ANSWER).where(ANSWER.c.inspection_id == bindparam("record_id")).order_by(ANSWER.c.item_no)
_EXTRA_ROWS = (select(EXTRA_ROW).where(EXTRA_ROW.c.inspection_id == bindparam("record_id"))
               .order_by(EXTRA_ROW.c.position))
_READS = [Statement(s) for s in (_RECORD, _TASK, _ANSWERS, _EXTRA_ROWS)]


def _new_receipt(dialect: str):
    """The save's receipt, stored when its key is new and the record exists (its row is
    returned); nothing when the key is stored already (a replay, or a reused key)."""
    values = select(bindparam("receipt_key", type_=String), INSPECTION.c.id, bindparam("receipt_target", type_=String),
                    bindparam("receipt_content", type_=String), bindparam("receipt_at", type_=DateTime))
    return (dialect_insert(dialect)(RECEIPT)
            .from_select(["key", "inspection_id", "target", "content_sha256", "at"],
                         values.where(INSPECTION.c.id == bindparam("record_id")))
            .on_conflict_do_nothing().returning(RECEIPT.c.key))


_RECEIPT = Statement(_new_receipt)
_ANSWER_COLUMNS = ("record", "conclusion", "remark", "version", "updated_at", "updated_by", "updated_by_name")
_INSERT_ANSWER = Statement(ANSWER.insert().returning(ANSWER.c.id))
_UPDATE_ANSWER = Statement(ANSWER.update().where(ANSWER.c.id == bindparam("answer_id")))
_UPDATE_BY_ID = {table.name: Statement(update(table).where(table.c.id == bindparam("ident")))
                 for table in (INSPECTION, TASK)}


def load_locked(inspection_id: int, receipt: dict | None = None) -> tuple[RecordView | None, bool]:
    """Lock the record (FOR UPDATE on PostgreSQL; SQLite's write lock, taken here under
    ``late_write_lock``) and read it after the lock was granted, all in one batch (one
    round trip on PostgreSQL). With ``receipt`` (``services.receipt_row``), the same batch
    stores it when its key is new.

    Returns (the record or None when there is none, whether the receipt was stored).
    What the caller's session holds of this record is flushed first; after the save's
    writes, ``forget`` expires it (the writes bypass the ORM)."""
    session = db.session
    session.flush()
    begin_write(session)
    batch = Batch()
    ident = {"record_id": inspection_id}
    record, task_rows, answer_rows, extra_rows = (batch.add(s, ident) for s in _READS)
    stored = None
    if receipt is not None:
        stored = batch.add(_RECEIPT, {"record_id": inspection_id, "receipt_key": receipt["key"],
                                      "receipt_target": receipt["target"], "receipt_content": receipt["content_sha256"],
                                      "receipt_at": receipt["at"]})
    batch.run(session.connection())
    row = record.first()
    if row is None:
        return None, False
    places, signatures = [], {}
    task = None
    for r in task_rows.rows:
        if task is None:
            task = TaskView(r.id, r.code, r.state, r.first_answer_at, r.unit_id, places)
        if r.officer_id is not None:
            places.append(PlaceView(r.officer_id, r.cert_no, r.active, OfficerView(r.name, r.user_id)))
        if r.signature_id is not None:
            signatures[r.signature_id] = SignatureView(r.signature_id, r.officer_id, r.certificate_shown,
                                                       r.voided_at)
    answers = [AnswerView(a.id, a.item_no, a.record, a.conclusion, a.remark, a.version, a.updated_at, a.updated_by,
                          a.updated_by_name)
               for a in answer_rows.rows]
    view = RecordView(row, task, answers, extra_rows.rows, [signatures[k] for k in sorted(signatures)])
    return view, stored is not None and stored.first() is not None


def write_answer(answer: AnswerView, inspection_id: int, batch: Batch) -> Pending | None:
    """Store ``answer`` when ``batch`` runs; for a new answer (no id yet) returns the
    statement whose row holds its id."""
    values = {column: getattr(answer, column) for column in _ANSWER_COLUMNS}
    if answer.id is None:
        return batch.add(_INSERT_ANSWER, dict(values, inspection_id=inspection_id, item_no=answer.item_no))
    batch.add(_UPDATE_ANSWER, dict(values, answer_id=answer.id))
    return None


def write_columns(table, ident: int, batch: Batch, **values) -> None:
    batch.add(_UPDATE_BY_ID[table.name], dict(values, ident=ident))


def forget(record: RecordView) -> None:
    """Expire what the session holds of this record, its answers and its task: the save
    wrote them by statements of their own (a request holds none; a script may)."""
    session = db.session
    for obj in list(session.identity_map.values()):
        state = obj.__dict__
        if ((isinstance(obj, Inspection) and state.get("id") == record.id)
                or (isinstance(obj, Answer) and state.get("inspection_id") == record.id)
                or (isinstance(obj, Task) and state.get("id") == record.task_id)):
            session.expire(obj)
