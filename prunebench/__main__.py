"""Command line: `python -m prunebench methods` prints the method registry;
`python -m prunebench check CONFIG` validates a config file."""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, load_config
from .methods import REGISTRY


def methods_table() -> str:
    rows = [("name", "family", "signals", "keep", "balanced", "fraction-dependent", "source")]
    for m in REGISTRY.values():
        signals = ", ".join(m.signals) or "labels only"
        rows.append((m.name, m.family, signals, m.keep, "yes" if m.balanced else "no (global)",
                     "yes" if m.fraction_dependent else "no", m.paper))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
    params = [f"  {m.name}.{key} = {value!r}: {m.docs.get(key, '')}".rstrip(": ")
              for m in REGISTRY.values() for key, value in m.defaults.items()]
    return f"{table}\n\nparameters (set them under method_params):\n" + "\n".join(params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prunebench")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("methods", help="list the registered selection methods")
    check = commands.add_parser("check", help="validate config files (later files override earlier ones)")
    check.add_argument("configs", nargs="+", metavar="CONFIG")
    args = parser.parse_args(argv)
    if args.command == "methods":
        print(methods_table())
        return 0
    try:
        load_config(*args.configs)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{' + '.join(args.configs)}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
