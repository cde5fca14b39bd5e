"""`python -m dimple.scale`: see run.py."""

import sys

from .run import main

sys.exit(main())
