"""Events between features, so a lower layer never imports a higher one (as indico's
``indico.core.signals``). The lower feature sends; the higher one connects its receivers
when its blueprint is registered on the app (``bp.record_once``). A signal nobody listens
to is a no-op, so every feature also works on its own.

The layers, lowest first, are listed in pyproject.toml ([tool.importlinter])."""
from blinker import Namespace

_signals = Namespace()

# Sent by inspections when a record is approved. sender: the approved Inspection;
# keyword ``actor``: the approving user. Oversight opens the follow-up case of a 不合格
# or not-inspected record, closes a later inspection's case, records a 复查 result and
# sets the registry's production state.
inspection_approved = _signals.signal("inspection-approved")

# Sent by plans when an officer is replaced on a task. sender: the Task; keywords
# ``officer_id`` (the replaced officer), ``reason`` and ``actor``. Receivers return how
# many of the officer's signatures they voided (inspections: those on unsubmitted records).
officer_replaced = _signals.signal("officer-replaced")

# Sent by publicity to learn the follow-up of tasks. sender: task ids (a list or a SELECT).
# Receivers return rows ``(task_id, rectified, decision)`` (oversight: one per case).
follow_up_outcomes = _signals.signal("follow-up-outcomes")
