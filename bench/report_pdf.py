"""How long the monthly PDF report takes for one organisation, on the current database.

    .venv/bin/python bench/report_pdf.py [--org <slug>] [--month YYYY-MM] [--language id|en]
                                         [--repeat 3]

Uses the database the settings point at (``DATABASE_URL``), for example one kept by
``bench/dashboard.py --keep`` (5,000,000 metric snapshots, 1,000,000 inbound messages):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/humas_bench_XXXX \\
        .venv/bin/python bench/report_pdf.py --org dinas-bench

Without ``--org``, the organisation with the most published posts; without ``--month``, last
month in the organisation's time zone. Builds the report (every query) and writes the PDF,
``--repeat`` times, and prints the seconds of each step and the PDF's pages; also the XLSX
and CSV for comparison. The exit status is non-zero when the slowest PDF (build and write)
took 10 s or more. ``bench/dashboard.py`` calls :func:`measure` after its own set-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 10.0


def measure(org: Any, month: str, language: str = "id") -> tuple[float, int]:
    """Seconds to build and write ``month``'s (``YYYY-MM``) PDF report, and its pages."""
    import pypdfium2

    from humas.analytics import periods, reports

    period = periods.parse({"bulan": month}, default=periods.last_month(periods.today_in(org)))
    began = time.perf_counter()
    report = reports.build(org, period, language=language)
    data = reports.pdf(report)
    seconds = time.perf_counter() - began
    return seconds, len(pypdfium2.PdfDocument(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--org", help="the organisation's short name (slug)")
    parser.add_argument("--month", help="YYYY-MM; last month by default")
    parser.add_argument("--language", default="id", choices=["id", "en"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humas.settings")
    os.environ.setdefault("HUMAS_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    import pypdfium2
    from django.db.models import Count

    from humas.accounts.models import Organisation
    from humas.analytics import periods, reports
    from humas.channels.models import ChannelPost

    if args.org:
        org = Organisation.objects.get(slug=args.org)
    else:
        busiest = (
            ChannelPost.objects.values("organisation").annotate(n=Count("pk")).order_by("-n")
        ).first()
        if busiest is None:
            sys.exit("no organisation has published posts in this database")
        org = Organisation.objects.get(pk=busiest["organisation"])
    default = periods.last_month(periods.today_in(org))
    period = periods.parse({"bulan": args.month or ""}, default=default)
    print(f"{org.name} ({org.slug}), {period.first} – {period.last}, in {args.language}")

    worst = 0.0
    for run in range(1, args.repeat + 1):
        began = time.perf_counter()
        report = reports.build(org, period, language=args.language)
        built = time.perf_counter()
        data = reports.pdf(report)
        written = time.perf_counter()
        xlsx = reports.xlsx(report)
        sheets = time.perf_counter()
        reports.csv(report)
        done = time.perf_counter()
        pages = len(pypdfium2.PdfDocument(data))
        total = written - began
        worst = max(worst, total)
        print(
            f"run {run}: build {built - began:.2f} s, PDF {written - built:.2f} s "
            f"({pages} pages, {len(data) // 1024} KB) = {total:.2f} s; "
            f"XLSX {sheets - written:.2f} s ({len(xlsx) // 1024} KB), CSV {done - sheets:.2f} s"
        )
    met = worst < TARGET_SECONDS
    print(
        f"slowest PDF {worst:.2f} s; target < {TARGET_SECONDS:.0f} s: {'met' if met else 'NOT met'}"
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
