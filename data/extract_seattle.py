"""Extract the bundled Seattle daily weather from the ``vega_datasets`` wheel, once.

``vega_datasets/_data/seattle-weather.csv`` of vega_datasets 0.9.0 (PyPI) -> ``seattle_weather.csv``:
daily NOAA observations in Seattle, 2012-01-01 to 2015-12-31 (``date, precipitation, temp_max,
temp_min, wind, weather``). The bytes are copied unchanged after checking the member against the
sha256 in the wheel's ``RECORD``; the script prints the sha256 of the output.

Regenerate (from the repository root)::

    pip download --no-deps -d /tmp/pkgs vega_datasets==0.9.0
    python data/extract_seattle.py /tmp/pkgs/vega_datasets-0.9.0-py3-none-any.whl

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

MEMBER = "vega_datasets/_data/seattle-weather.csv"
RECORD = "vega_datasets-0.9.0.dist-info/RECORD"
COLUMNS = ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"]


def extract(wheel_path: Path, out_dir: Path) -> str:
    with zipfile.ZipFile(wheel_path) as wheel:
        record = {row[0]: row[1] for row in csv.reader(io.StringIO(wheel.read(RECORD).decode()))}
        data = wheel.read(MEMBER)
    expected = record.get(MEMBER, "")
    actual = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if actual != expected:
        raise SystemExit(f"{wheel_path}: {MEMBER} has {actual}, RECORD says {expected!r}; not vega_datasets 0.9.0?")
    header = data.decode("utf-8").splitlines()[0].split(",")
    if header != COLUMNS:
        raise SystemExit(f"{MEMBER}: columns {header}, expected {COLUMNS}")
    out = out_dir / "seattle_weather.csv"
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("wheel", type=Path, help="vega_datasets-0.9.0-py3-none-any.whl")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    digest = extract(args.wheel, args.out_dir)
    print(f"{args.out_dir / 'seattle_weather.csv'}  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
