"""`python -m crm_cli ...`: the same as `./crm ...` once the virtual environment exists."""

import sys

from crm_cli.cli import main

sys.exit(main())
