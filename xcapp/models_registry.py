"""Import every model module so that the metadata is complete (migrations, create_all)."""
from .audit import models as _audit  # noqa: F401
from .auth import models as _auth  # noqa: F401
from .core import models as _core  # noqa: F401
from .registry import models as _registry  # noqa: F401
from .plans import models as _plans  # noqa: F401
from .inspections import models as _inspections  # noqa: F401
from .publicity import models as _publicity  # noqa: F401
from .oversight import models as _oversight  # noqa: F401
from .reports import models as _reports  # noqa: F401
