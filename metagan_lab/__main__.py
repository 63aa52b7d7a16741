"""``python -m metagan_lab`` is the ``metagan-lab`` command."""

import sys

from .cli import main

sys.exit(main())
