"""Time helpers. Stored times are naive UTC; the UI shows China Standard Time."""
from datetime import date, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_local(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).astimezone(CST)


def local_today() -> date:
    return datetime.now(CST).date()


def fmt_dt(value: datetime | None) -> str:
    local = to_local(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""
