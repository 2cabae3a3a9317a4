"""`python -m i2v` runs the command line."""

from i2v.cli.app import main

if __name__ == "__main__":
    main()
