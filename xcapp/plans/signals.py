"""Events between features, so a lower layer never imports a higher one: the inspections
feature sends ``inspection_approved`` when a record is approved; follow-up listens."""
from blinker import Namespace

_signals = Namespace()

# sender: the approved Inspection; keyword ``actor``: the approving user.
inspection_approved = _signals.signal("inspection-approved")
