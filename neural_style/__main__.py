"""`python -m neural_style ...`"""

import sys

from neural_style.commands.cli import main

sys.exit(main())
