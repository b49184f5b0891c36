"""One write path for routes: ``with write(...) as w:`` around the service calls.

A route parses the request, opens ``write`` naming the refusals its services raise
(``PlanError``, ``RegistryError``...), calls the services inside, and answers after the
block from the outcome ``w``::

    with write(RegistryError, form=form) as w:
        enterprise = save_enterprise(raw, actor=current_user)
    if w.ok:
        flash(f"已登记企业：{enterprise.name}", "success")
        return redirect(url_for("registry.enterprise_detail", enterprise_id=enterprise.id))
    return render_template("registry/enterprise_form.html", form=form), 422

- **Success**: the block's work is committed when it ends; ``success`` (if given) is
  flashed after the commit, never before (a commit that fails must not leave a
  "saved" message behind).
- **A refusal** (one of the named exception classes) is rolled back and kept in ``w``
  (``w.error``, ``w.message``, ``w.errors``, ``w.status``: the refusal's own ``status``
  when it has one, e.g. 409 for a conflict, else 422). It is shown once:
  with ``form``, each per-field message goes under its form field (``field`` names the
  field for a refusal that names none), the rest is flashed; without a form it is
  flashed, unless the route shows it itself (``flash=False``: an htmx fragment with
  ``w.message``, typically ``flash=not is_htmx()``, or a page with the refused file).
  ``details=True`` adds the per-field messages to the flash (a step with no form to
  show them).
- **Anything else** (a bug, ``abort()``, a lock timeout) propagates untouched: the error
  handlers roll back and answer 500, 404 or 503 "please retry" (xcapp.errors).
- **SQLite**: under ``late_write_lock`` a refused write leaves the rest of the request
  read-only, as a commit does (``db_setup.after_refused_write``): showing the refusal
  never waits for the write lock again.

Htmx answers render blocks of the screen's template with jinja2-fragments
(``render_block``, or ``render_blocks`` for a region and its ``hx-swap-oob`` companions)
and ``w.status``; plain posts redirect after the write.

Why not one transaction per request, as indico's request handler has? Here the
transaction boundary is visible in the route, the success message can follow the
commit, the routes marked ``late_write_lock`` decide when the write lock is taken, and
the many read-only pages and downloads (some streamed) need no commit at all.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field as dataclass_field

from flask import flash as flash_message

from ..db_setup import after_refused_write
from ..extensions import db
from .responses import apply_field_errors

REFUSED = 422   # the status of a refusal that carries none of its own


@dataclass
class Write:
    """The outcome of a ``write`` block: ``ok`` once committed, else the refusal."""

    error: Exception | None = None
    message: str = ""                                         # the refusal in one line (Chinese)
    errors: dict[str, str] = dataclass_field(default_factory=dict)   # per field, when it names fields
    status: int = 200

    @property
    def ok(self) -> bool:
        return self.error is None

    def refuse(self, exc: Exception) -> None:
        self.error = exc
        self.errors = dict(getattr(exc, "errors", None) or {})
        own = getattr(exc, "message", None)
        self.message = own or ("；".join(self.errors.values()) if self.errors else str(exc))
        self.status = getattr(exc, "status", REFUSED)

    @property
    def details(self) -> str:
        """The message followed by the per-field messages ("计划信息有误：年度无效；…")."""
        if not self.errors or not getattr(self.error, "message", None):
            return self.message
        return self.message + "：" + "；".join(self.errors.values())


@contextmanager
def write(*refusals: type[Exception], form=None, field: str | None = None, success: str | None = None,
          flash: bool = True, details: bool = False) -> Iterator[Write]:
    """Commit the block's writes, or roll back a refusal and show it (see the module docstring)."""
    outcome = Write()
    try:
        yield outcome
    except refusals as exc:
        db.session.rollback()
        after_refused_write()
        outcome.refuse(exc)
        _show(outcome, form, field, flash, details)
        return
    db.session.commit()
    if success:
        flash_message(success, "success")


def _show(outcome: Write, form, field: str | None, flash: bool, details: bool) -> None:
    if form is not None:
        errors = outcome.errors or ({field: outcome.message} if field and outcome.message else {})
        apply_field_errors(form, errors, outcome.message)
    elif flash:
        flash_message(outcome.details if details else outcome.message, "error")
