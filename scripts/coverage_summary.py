"""Combine a measured test pass's coverage data and print its total and least-covered modules.

Called by scripts/test.sh after the passes: `python scripts/coverage_summary.py "pass 1/2"`,
with `--enforce` when the whole suite ran, so a total under `fail_under`
(pyproject.toml [tool.coverage.report]) fails `make test`.
The figures cover the test process and every Python process it started (the app under
test, its backend workers), as configured in pyproject.toml [tool.coverage.run].
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import coverage
from coverage.exceptions import NoDataError

LEAST_COVERED = 10


def main(argv: list[str]) -> int:
    """Combine the data files, write a JSON report beside them, print the summary.

    Args:
        argv: The program name, the name of the measured pass, optionally `--enforce`.

    Returns:
        0; 1 when no data was found (nothing measured); 2 when enforced and the total is
        under the configured `fail_under`.
    """
    enforce = "--enforce" in argv
    names = [arg for arg in argv[1:] if arg != "--enforce"]
    measured = names[0] if names else "the tests"
    cov = coverage.Coverage()
    data_file = Path(cov.config.data_file)
    try:
        if list(data_file.parent.glob(data_file.name + ".*")):
            cov.combine()  # each process's own file into one
            cov.save()
        else:
            cov.load()  # combined already
        report = data_file.parent / "report.json"  # not "coverage.*": those are data files
        cov.json_report(outfile=str(report))
    except NoDataError:
        print(f"coverage of {measured}: no data was collected")
        return 1
    summary = json.loads(report.read_text(encoding="utf-8"))
    totals = summary["totals"]
    files = [
        (name, data["summary"])
        for name, data in summary["files"].items()
        if data["summary"]["num_statements"]
    ]
    files.sort(key=lambda item: (item[1]["percent_covered"], -item[1]["num_statements"]))
    print(
        f"coverage of {measured}, the app's own processes included: "
        f"{totals['percent_covered']:.1f}% of {totals['num_statements']} lines "
        f"({totals['missing_lines']} not run; details: python -m coverage report -m)"
    )
    print(f"the {LEAST_COVERED} least covered modules:")
    for name, file_summary in files[:LEAST_COVERED]:
        print(
            f"  {file_summary['percent_covered']:5.1f}%  {name}  "
            f"({file_summary['missing_lines']} of {file_summary['num_statements']} lines not run)"
        )
    floor = float(cov.get_option("report:fail_under") or 0)
    if enforce and totals["percent_covered"] < floor:
        print(f"coverage is under the floor of {floor:.0f}% (fail_under in pyproject.toml)")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
