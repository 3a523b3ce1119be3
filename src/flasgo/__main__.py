"""``python -m flasgo``: the same command line as the ``flasgo`` script."""

from flasgo.cli import main

# NOTE: the guard matters: worker and reload processes re-import this module under another name.
if __name__ == "__main__":
    main()
