"""`neural-style batch -o OUTDIR (--contents ... --styles ... | --jobs MANIFEST.csv)`: flags -> `stylize_batch`.

The image flags are the main command's (flags.add_style_flags) and apply to every job; a manifest's
columns override them per job. Where the jobs run is `BatchOptions`, one flag per field with its default. The common
flags are every command's (flags.add_common_flags).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from neural_style.batch.run import BATCH_FIELDS, BatchOptions, stylize_batch
from neural_style.commands.common import OneLineParser, StopOnSignal, run_command
from neural_style.commands.flags import add_common_flags, add_style_flags, config_from_args

PROG = "neural-style batch"
DEFAULTS = BatchOptions()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG, argument_default=argparse.SUPPRESS,
        description="Paint many pictures: every content x style pair, or the rows of a manifest, into OUTDIR as "
        "CONTENT__STYLE.png with its loss log, and OUTDIR/batch.csv with one row per job. A rerun skips the "
        "pictures already made. Runs here, in local worker processes, or on a Ray cluster.",
        epilog="Exit status: 0 when every job is done, 1 when some failed (named at the end), 2 for bad input.")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the pictures and batch.csv")
    jobs = parser.add_argument_group("jobs")
    jobs.add_argument("--contents", nargs="+", metavar="FILE_OR_GLOB", help="content images (quote globs: 'photos/*.jpg')")
    jobs.add_argument("--styles", nargs="+", metavar="FILE_OR_GLOB", help="style images; every content gets every style")
    jobs.add_argument("--jobs", metavar="MANIFEST.csv",
                      help="a CSV with a header row: content, style (several: a.jpg;b.jpg), optional output (in OUTDIR), "
                      "and option columns (size, iterations, style_weight, ...) that override the flags for that row")
    jobs.add_argument("--overwrite", action="store_true", help="redo jobs whose output exists (default: skip them)")
    where = parser.add_argument_group("where the jobs run")
    where.add_argument("--workers", type=int, metavar="N",
                       help="local worker processes, each with its share of the cores (default: one per GPU, or 1: "
                       "this process)")
    where.add_argument("--ray", metavar="WHERE",
                       help="run each job as a Ray task (pip install -e '.[cluster]'): 'local' starts Ray here for the "
                       "run, 'auto' joins the cluster of RAY_ADDRESS or 'ray start --head', or a head's ADDRESS:PORT")
    where.add_argument("--cpus-per-job", type=float, metavar="N",
                       help=f"CPUs each Ray task asks for (default: {DEFAULTS.cpus_per_job:g})")
    where.add_argument("--gpus-per-job", type=float, metavar="N",
                       help=f"GPUs each Ray task asks for (default: {DEFAULTS.gpus_per_job:g})")
    where.add_argument("--retries", type=int, metavar="N",
                       help="times a job whose worker process died is run again before it counts as failed "
                       f"(default: {DEFAULTS.retries})")
    add_style_flags(parser)
    parser.add_argument("--no-log", dest="log", action="store_false", help="do not write each picture's CSV loss log")
    add_common_flags(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`neural-style batch`; returns the exit status: 0 all done, 1 some failed, 2 bad input, 130/143 interrupted."""
    args = build_parser().parse_args(argv)
    given = vars(args)
    batch = BatchOptions(**{name: given.pop(name) for name in BATCH_FIELDS if name in given})
    contents, styles, manifest = given.pop("contents", None), given.pop("styles", None), given.pop("jobs", None)
    outdir = given.pop("output")

    def body(stop: StopOnSignal) -> int:
        config, watch = config_from_args(argparse.Namespace(**given))
        result = stylize_batch(contents, styles, outdir, jobs=manifest, config=config, batch=batch, watch=watch,
                               should_stop=stop)
        if result.stopped:
            print(f"{PROG}: interrupted; run the same command again to do the jobs left", file=sys.stderr)
        return 1 if result.failed else 0

    return run_command(PROG, body, stopping="stopping; the finished pictures are kept, the jobs not finished stay "
                       "pending for a rerun")
