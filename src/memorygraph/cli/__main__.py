"""``python -m memorygraph.cli``: the ``memorygraph`` command."""

import sys

from memorygraph.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
