"""The ``minicnn`` command line (placeholder; see issue 5)."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minicnn")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("gradcheck")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return 0
