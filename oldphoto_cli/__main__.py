"""``python -m oldphoto_cli`` and the ``oldphoto`` script: Ctrl-C while the CLI and its
plugins are imported exits 130 like Ctrl-C at any later point."""

import sys


def main() -> None:
    try:
        from oldphoto_cli.cli import main as run
    except KeyboardInterrupt:
        print("oldphoto: interrupted", file=sys.stderr)
        sys.exit(130)
    run()


if __name__ == "__main__":
    main()
