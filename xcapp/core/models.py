"""Units: the city bureau, its county-level bureaus and its direct branches."""
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

KIND_CITY = "city"
KIND_COUNTY = "county"
KIND_BRANCH = "branch"
KIND_LABELS = {KIND_CITY: "市局", KIND_COUNTY: "县（市、区）局", KIND_BRANCH: "市局直属分局"}

# Stable codes. County-level bureaus use their administrative division code
# (GB/T 2260); the branches have no division of their own and get internal
# codes in the 4110 7x range, which no GB/T 2260 code in Xuchang uses.
XUCHANG_UNITS = [
    ("411000", "许昌市市场监督管理局", "许昌市市场监督管理局", KIND_CITY),
    ("411002", "魏都区", "许昌市魏都区市场监督管理局", KIND_COUNTY),
    ("411003", "建安区", "许昌市建安区市场监督管理局", KIND_COUNTY),
    ("411081", "禹州市", "禹州市市场监督管理局", KIND_COUNTY),
    ("411082", "长葛市", "长葛市市场监督管理局", KIND_COUNTY),
    ("411024", "鄢陵县", "鄢陵县市场监督管理局", KIND_COUNTY),
    ("411025", "襄城县", "襄城县市场监督管理局", KIND_COUNTY),
    ("411071", "经济技术开发区", "许昌市市场监督管理局经济技术开发区分局", KIND_BRANCH),
    ("411072", "东城区", "许昌市市场监督管理局东城区分局", KIND_BRANCH),
    ("411073", "城乡一体化示范区", "许昌市市场监督管理局城乡一体化示范区分局", KIND_BRANCH),
]


class Unit(db.Model):
    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    full_name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def is_city(self) -> bool:
        return self.kind == KIND_CITY

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Unit {self.code} {self.name}>"


def ensure_units() -> list[Unit]:
    """Create or rename the Xuchang units; idempotent. Returns them in order."""
    existing = {u.code: u for u in db.session.scalars(db.select(Unit))}
    units = []
    for order, (code, name, full_name, kind) in enumerate(XUCHANG_UNITS):
        unit = existing.get(code)
        if unit is None:
            unit = Unit(code=code, name=name, full_name=full_name, kind=kind, sort_order=order)
            db.session.add(unit)
        units.append(unit)
    db.session.flush()
    return units


def inspecting_units():
    """Units that receive tasks (every unit but the city bureau itself)."""
    return db.session.scalars(
        db.select(Unit).where(Unit.kind != KIND_CITY).order_by(Unit.sort_order)
    ).all()


def all_units():
    return db.session.scalars(db.select(Unit).order_by(Unit.sort_order)).all()
