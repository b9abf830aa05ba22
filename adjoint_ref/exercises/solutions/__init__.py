"""Reference answers to the exercises, one module per exercise, each passing its checker.

They double as model answers for learners; where the package already has the function, the
answer calls it, so the checkers grade the package too.
"""
