"""`python -m neural_style ...`"""

import sys

from .cli import main

sys.exit(main())
