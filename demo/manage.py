#!/usr/bin/env python3
"""The demo site's manage.py: `python3 demo/manage.py runserver` (see docs/demo.md)."""
import os
import sys
from pathlib import Path

# The demo runs from a checkout: django_telegraphy is importable from the
# repository root without installing it (an installed copy works too).
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
