#!/usr/bin/env python3
"""Looks for customer data in every log the test suite kept, at info level and above.

The tests keep each agent log they produce in <target>/tmp/agent-logs/ (tests/support/mod.rs,
`keep_log`). This collects every customer value the fixtures and tests hold (names, street
addresses, e-mails, phones, notes, and the bad values planted in them) and fails when any of them
appears in a log line above debug level. Usage: check-logs-for-customer-data.py [TARGET_DIR]
"""

import csv
import io
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target"
LOGS = TARGET / "tmp" / "agent-logs"

# Column names (normalised: lower case, letters and digits only) that hold customer data.
CUSTOMER_COLUMN = re.compile(
    r"(first|last|full|billing|shipping|shipto|customer|recipient)?(name|firstname|lastname)$"
    r"|address|street|email|phone|notes?$|customernote|company$"
)
NOT_CUSTOMER = re.compile(r"item|product|lineitem|method|sku|file|route|carrier|service")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# Values too common to mean anything when they appear in a log (column headers, countries).
TOO_COMMON = {"true", "false", "none", "null", "paid", "united states"}


def normalised(header):
    return re.sub(r"[^a-z0-9]", "", header.lower())


def from_csv(text):
    values = set()
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        return values
    if not rows:
        return values
    header = [normalised(h) for h in rows[0]]
    wanted = [
        i for i, h in enumerate(header) if CUSTOMER_COLUMN.search(h) and not NOT_CUSTOMER.search(h)
    ]
    for row in rows[1:]:
        for i in wanted:
            if i < len(row):
                values.add(row[i].strip().lstrip("'"))
    return values


def from_x12(text):
    values = set()
    element = text[3] if len(text) > 3 else "*"
    for segment in re.split(r"[~\n]", text):
        parts = segment.strip().split(element)
        if parts[0] == "N1" and len(parts) > 2 and parts[1] in ("ST", "BY", "CN", "BT"):
            values.add(parts[2])
        elif parts[0] in ("N2", "N3") and len(parts) > 1:
            values.update(parts[1:3])
        elif parts[0] == "PER":
            values.update(parts[i] for i in (2, 4, 6, 8) if i < len(parts))
    return values


def customer_values():
    values = set()
    for path in (ROOT / "fixtures").rglob("*"):
        if not path.is_file() or path.suffix == ".md":
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        if path.suffix == ".csv":
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
            values |= from_csv(text)
        elif text.lstrip("\ufeff \r\n").startswith("ISA"):
            values |= from_x12(text.lstrip("\ufeff \r\n"))
        values |= set(EMAIL.findall(text))
    # The tests' own customers: e-mails, and the names and streets they plant.
    for path in (ROOT / "tests").rglob("*.rs"):
        text = path.read_text(encoding="utf-8")
        values |= set(EMAIL.findall(text))
        for csv_row in re.findall(r'"([^"\n]*,[^"\n]*)\\n', text):
            values |= {v for v in csv_row.split(",") if re.search(r"[A-Za-z]{3,} [A-Za-z]", v)}
    return {
        v
        for v in (v.strip() for v in values)
        # A bare number (an order number such as Shopify's "#1001" in its Name column) is no
        # customer's data.
        if len(v) >= 5 and v.lower() not in TOO_COMMON and not v.lstrip("#").replace(" ", "").isdigit()
    }


def above_debug(line):
    if line.startswith("{"):
        try:
            return json.loads(line).get("level", "INFO") not in ("DEBUG", "TRACE")
        except ValueError:
            return True
    return " DEBUG " not in line and " TRACE " not in line


def main():
    if not LOGS.is_dir():
        print(f"error: no logs kept in {LOGS}: run the tests first", file=sys.stderr)
        return 1
    values = customer_values()
    logs = sorted(LOGS.glob("*.log"))
    hits = []
    for log in logs:
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            if not above_debug(line):
                continue
            for value in values:
                if value in line:
                    hits.append(f"{log.name}:{number}: {value!r} in: {line[:300]}")
    if hits:
        print(f"customer data in {len(hits)} log lines at info or above:", file=sys.stderr)
        for hit in hits[:50]:
            print("  " + hit, file=sys.stderr)
        return 1
    print(f"no customer data in {len(logs)} logs ({len(values)} customer values looked for)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
