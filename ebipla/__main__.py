"""``python -m ebipla ...``: the command line without the installed ``ebipla`` script (e.g. on a GPU machine that
has PyTorch but where the package is only on PYTHONPATH)."""

from .cli import main

raise SystemExit(main())
