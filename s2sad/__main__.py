"""``python -m s2sad``: the same command line as the ``s2sad`` console script."""

from s2sad_cli.main import main

if __name__ == "__main__":
    main()
