"""``python -m galaxlite.cli ARGS``: the same as the console script ``galaxlite ARGS``."""

from galaxlite.cli import main

if __name__ == "__main__":
    main()
