"""`python -m autoresearch` runs the command line."""

from autoresearch.faces.cli import main

main()
