#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["runproduct"]:
        # `make run` is the local demo; what it needs must be set before the settings load.
        from devtools.launcher import set_demo_environment

        set_demo_environment(os.environ)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
