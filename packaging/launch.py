"""The standalone app's entry script: main.py is a module of the package (its imports are
relative), so PyInstaller starts it through this file, as the installed `l1-trainer` does."""

import sys

from l1_trainer.main import main

if __name__ == "__main__":
    sys.exit(main())
