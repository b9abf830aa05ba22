"""`python -m adjoint_ref` is the `adjoint-ref` command."""
import sys

from .cli import main

sys.exit(main())
