"""Demo publication: the approved results of the 2023 plan exported once, so the
public results page and the first-published dates have content."""
from sqlalchemy import select

from ..demo import demo_extension
from ..extensions import db
from ..plans.demo import DEMO_CODE
from ..plans.models import Plan
from .models import Publication
from .services import export_publicity


@demo_extension
def load_publications() -> None:
    plan = db.session.scalar(select(Plan).where(Plan.code == DEMO_CODE))
    if plan is None or db.session.scalar(select(Publication.id).limit(1)) is not None:
        return
    export_publicity(plan)
