"""Argument types shared by the commands: argparse reports their messages as usage errors (exit 2)."""
import argparse


def _number(convert, accept, requirement):
    """An argparse type: `convert(text)`, refused with "must be {requirement}" unless `accept(value)`."""
    def parse(text):
        value = convert(text)
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value
    parse.__name__ = requirement.split(" ", 1)[1]  # argparse names the type when convert() fails
    return parse


positive_int = _number(int, lambda n: n >= 1, "a positive integer")
non_negative_int = _number(int, lambda n: n >= 0, "a non-negative integer")
positive_float = _number(float, lambda x: x > 0, "a positive number")
non_negative_float = _number(float, lambda x: x >= 0, "a non-negative number")
