"""pytest configuration: the hypothesis profiles used by tests/test_properties.py.

ADJOINT_REF_HYPOTHESIS_PROFILE selects one:
  fast (default) — a fixed, derandomized set of examples, small enough for CI;
  long           — many fresh random examples (several minutes), for a thorough search.
"""
import os

from hypothesis import settings

settings.register_profile("fast", max_examples=40, derandomize=True, deadline=None, database=None)
settings.register_profile("long", max_examples=600, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("ADJOINT_REF_HYPOTHESIS_PROFILE", "fast"))
