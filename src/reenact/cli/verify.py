"""`reenact verify`: tell whether videos or images were made by reenact."""

from __future__ import annotations

import argparse
import logging
import sys

logger = logging.getLogger("reenact")


def cmd_verify(args: argparse.Namespace) -> int:
    """0: every file is marked; 1: some file is not; 2: some file could not be read."""
    import json

    from reenact.provenance.verify import describe, verify_file

    results: list[dict[str, object]] = []
    unmarked = errors = 0
    for name in args.files:
        try:
            verification = verify_file(name)
        except (ValueError, OSError) as error:
            logger.error("%s", error)
            results.append({"path": name, "error": str(error)})
            errors += 1
            continue
        unmarked += not verification.marked
        if args.json:
            results.append(verification.to_dict())
        else:
            sys.stdout.write(describe(verification) + "\n")
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return 2 if errors else 1 if unmarked else 0


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    verify = commands.add_parser(
        "verify", parents=[common], help="tell whether videos or images were made by reenact",
        description="Report the invisible watermark (survives re-encoding and rescaling), the "
                    "container metadata and the sidecar manifest of each FILE. Exit code 0: "
                    "every file is marked; 1: at least one is not; 2: a file could not be read.")
    verify.add_argument("files", nargs="+", metavar="FILE", help="videos or images")
    verify.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    verify.set_defaults(handler=cmd_verify)
