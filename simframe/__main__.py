"""``python -m simframe`` runs the command line."""

from simframe.cli import main

main()
