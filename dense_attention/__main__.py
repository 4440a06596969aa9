"""Command line: python -m dense_attention
train|eval|trace|sweep|tune|faithfulness|diagnostic|export-code (see --help; the code: cli/)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
