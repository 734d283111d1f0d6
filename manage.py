#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sls_portal.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A missing setting is a message, not a traceback. The demo's
        # commands run with its settings through make (README.md).
        sys.exit(f"manage.py: {exc} For the demo use the make targets in README.md (make run, make demo-card ...).")


if __name__ == "__main__":
    main()
