"""``python -m usagekit`` runs the CLI."""

import sys

from usagekit.cli import main

sys.exit(main())
