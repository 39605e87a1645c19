"""`python -m reenact.cli ...`: the `reenact` command."""

import sys

from reenact.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
