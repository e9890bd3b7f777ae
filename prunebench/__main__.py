"""Command line (`prunebench`, or `python -m prunebench`): `methods` prints the method registry,
`check CONFIG...` validates config files, `plan [CONFIG...]` prints what a config will run
(`--calibrate`: and how long it will take here), `compare RUN_DIR...` puts finished runs' accuracy side
by side, `--version`. A command is a subparser with a `run(args)`."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .config import load_config
from .errors import InputError
from .methods import REGISTRY
from .plugins import load_plugins


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
    return f"{table}\n\nparameters (set them under method_params, or in a variant's params):\n" + "\n".join(params)


def _methods(args) -> int:
    print(methods_table())
    return 0


def _check(args) -> int:
    load_config(*args.configs)
    print(f"{' + '.join(args.configs)}: valid")
    return 0


def _plan(args) -> int:
    from .plan import calibrate, cpu_cores, estimate, format_plan, make_plan

    configs = args.configs or ["config.yaml"]
    cfg = load_config(*configs)
    planned = make_plan(cfg)
    if not args.calibrate:
        print(format_plan(planned, configs))
        return 0
    cores = args.cores or cpu_cores()
    measured = calibrate(cfg, {*cfg["target"]["archs"], *cfg["proxy"]["archs"]}, cfg["device"])
    print(format_plan(planned, configs, estimate(planned, measured, cores), measured, cores))
    return 0


def _compare(args) -> int:
    from .compare import TABLE_NAME, compare_runs

    compare_runs(args.runs, args.out)
    print(f"{args.out}/{TABLE_NAME}.md, .csv, .png, .svg: {len(args.runs)} runs side by side")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`prunebench COMMAND`: each command is a subparser whose `run(args)` returns the exit status."""
    parser = argparse.ArgumentParser(prog="prunebench", description="coreset-selection benchmark")
    parser.add_argument("--version", action="version", version=f"prunebench {__version__}")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import a plugin module first (repeatable; installed plugins always load)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("methods", help="list the registered selection methods").set_defaults(run=_methods)
    check = commands.add_parser("check", help="validate config files (later files override earlier ones)")
    check.add_argument("configs", nargs="+", metavar="CONFIG")
    check.set_defaults(run=_check)
    plan = commands.add_parser("plan", help="jobs, trainings and images a config will run (later files override "
                                            "earlier ones; default config.yaml), and with --calibrate its time")
    plan.add_argument("configs", nargs="*", metavar="CONFIG")
    plan.add_argument("--calibrate", action="store_true",
                      help="time a few training steps on this machine's device to estimate wall time and GPU-hours")
    plan.add_argument("--cores", type=int, default=None, help="CPU cores the run will use (default: all here)")
    plan.set_defaults(run=_plan)
    compare = commands.add_parser("compare", help="accuracy per (run, method, fraction) of several run folders "
                                                  "(results/<run_name>) side by side: a table and a figure")
    compare.add_argument("runs", nargs="+", metavar="RUN_DIR")
    compare.add_argument("--out", default="comparison", metavar="DIR",
                         help="where comparison.md, .csv, .png and .svg go (default: ./comparison)")
    compare.set_defaults(run=_compare)
    args = parser.parse_args(argv)
    try:
        load_plugins(args.plugin)
        return args.run(args)
    except InputError as err:  # a bad config or name: one line
        print(err, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
