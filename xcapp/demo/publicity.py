"""Demo publication: the approved results of the 2023 plan exported once, so the
public results page and the first-published dates have content."""
from sqlalchemy import select

from ..extensions import db
from ..plans.models import Plan
from ..publicity.models import Publication
from ..publicity.services import export_publicity
from .plans import DEMO_CODE


def load_publications() -> None:
    plan = db.session.scalar(select(Plan).where(Plan.code == DEMO_CODE))
    if plan is None or db.session.scalar(select(Publication.id).limit(1)) is not None:
        return
    export_publicity(plan)
    # The demo's story (issue 12.6): exported in 2023 and confirmed as uploaded to the credit
    # system a few days later, one of them after its 20-working-day deadline (逾期公示).
    from datetime import datetime, time, timedelta

    from ..publicity.services import export_log

    rows = [r for r in export_log(plan) if r.publication.inspection.inspection_date]
    for n, row in enumerate(rows):
        day = row.publication.inspection.inspection_date + timedelta(days=5)
        row.publication.first_published_at = datetime.combine(day, time(2, 0))
        confirmed = (row.deadline + timedelta(days=3)) if n == 1 and row.deadline else day + timedelta(days=2)
        row.publication.confirmed_on, row.publication.confirmed_by = confirmed, "demo"
        row.publication.confirmed_at = datetime.combine(confirmed, time(3, 0))
