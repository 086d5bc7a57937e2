"""`python -m console` runs the command-line interface."""

import sys

from console.cli import main

if __name__ == "__main__":  # not when a spawned child process re-imports the main module
    sys.exit(main())
