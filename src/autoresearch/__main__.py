"""`python -m autoresearch` runs the command line."""

from autoresearch.cli import main

main()
