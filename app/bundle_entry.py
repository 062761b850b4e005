"""Entry point of the PyInstaller bundle: the desktop app, or its smoke run with ``--smoke``.

``app/__main__.py`` stays the entry of the installed package; the bundle adds only the smoke
check (see ``app/smoke.py``) that ``make bundle-smoke`` runs inside the built folder.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Dispatch on ``--smoke``; everything else goes to the app unchanged."""
    if "--smoke" in sys.argv[1:]:
        from app.smoke import main as smoke_main

        return smoke_main(sys.argv[1:])
    from app.__main__ import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
