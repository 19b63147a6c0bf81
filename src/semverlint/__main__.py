"""`python -m semverlint`."""

from semverlint.cli import main

main()
