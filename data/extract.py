"""Extract the bundled sample data from the ``bokeh-sampledata`` wheel, once.

Both sample files come from one PyPI package, ``bokeh-sampledata`` 2026.1, which ships
real data files (nothing is downloaded at run time):

- ``bokeh_sampledata/_data/sea_surface_temperature.csv.gz`` -> ``buoy_temperature.csv``
  (``timestamp, temperature``; observed sea temperature in degrees Celsius, UTC, every 30 min);
- ``bokeh_sampledata/_data/stocks.csv.gz`` -> ``stocks.csv``
  (``Ticker, Date, Open, High, Low, Close, Volume, AdjClose``; daily, 5 tickers).

Values are copied as the exact text of the source (no float round trip); only the
format changes: timestamps ``2016-02-15T00:00:00Z`` become ``2016-02-15 00:00:00``
(still UTC, written tz-naive), columns are renamed, rows are stably sorted. Every
member read is first checked against the sha256 in the wheel's ``RECORD`` and in the
package's own data inventory (``licenses/datasets.json``). Running the script twice
gives identical bytes; it prints the sha256 of each output.

Regenerate (from the repository root)::

    /work/venv/bin/pip download --no-deps -d /tmp/pkgs bokeh-sampledata==2026.1
    /work/venv/bin/python data/extract.py /tmp/pkgs/bokeh_sampledata-2026.1-py3-none-any.whl

Only the standard library and pandas are used. Nothing is installed.

Example
-------
>>> # python data/extract.py bokeh_sampledata-2026.1-py3-none-any.whl --out-dir data
>>> # data/buoy_temperature.csv  19226 rows  sha256 ...
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import pandas as pd

PACKAGE = "bokeh_sampledata"
EXPECTED_VERSION = "2026.1"
TEMPERATURE_MEMBER = "bokeh_sampledata/_data/sea_surface_temperature.csv.gz"
STOCKS_MEMBER = "bokeh_sampledata/_data/stocks.csv.gz"
INVENTORY_MEMBER = f"bokeh_sampledata-{EXPECTED_VERSION}.dist-info/licenses/licenses/datasets.json"
RECORD_MEMBER = f"bokeh_sampledata-{EXPECTED_VERSION}.dist-info/RECORD"

TEMPERATURE_SOURCE_COLUMNS = ["time (UTC)", "temperature (celsius)"]
TEMPERATURE_COLUMNS = ["timestamp", "temperature"]
STOCKS_SOURCE_COLUMNS = ["Ticker", "Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"]
STOCKS_COLUMNS = ["Ticker", "Date", "Open", "High", "Low", "Close", "Volume", "AdjClose"]


class ExtractError(Exception):
    """The package file is not the one this script was written for."""


def _find_wheel(paths: list[Path]) -> Path:
    """Return the bokeh-sampledata wheel among ``paths``."""
    for path in paths:
        if not path.is_file():
            raise ExtractError(f"package file `{path}` does not exist.")
    wheels = [p for p in paths if p.name.startswith(f"{PACKAGE}-") and p.name.endswith(".whl")]
    if len(wheels) != 1:
        raise ExtractError(
            f"expected exactly one `{PACKAGE}-{EXPECTED_VERSION}-*.whl` among the package files. "
            f"Received: {[str(p) for p in paths]}"
        )
    return wheels[0]


def _read_checked(wheel: zipfile.ZipFile, member: str, record: dict[str, str], inventory: dict[str, str]) -> bytes:
    """Read ``member`` and check its sha256 against RECORD and the data inventory."""
    data = wheel.read(member)
    digest = hashlib.sha256(data)
    record_digest = "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    if record.get(member) != record_digest:
        raise ExtractError(f"`{member}` does not match the wheel RECORD: {record_digest} != {record.get(member)}")
    name = member.rsplit("/", 1)[1]
    if inventory.get(name) != digest.hexdigest():
        raise ExtractError(
            f"`{member}` does not match datasets.json: {digest.hexdigest()} != {inventory.get(name)}"
        )
    return data


def _read_csv_text(data: bytes, expected_columns: list[str], member: str) -> pd.DataFrame:
    """Read a gzip CSV keeping every cell as its original text."""
    text = gzip.decompress(data).decode("utf-8")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    if list(frame.columns) != expected_columns:
        raise ExtractError(f"`{member}` columns must be {expected_columns}. Received: {list(frame.columns)}")
    empty = (frame == "").sum()
    if empty.any():
        raise ExtractError(f"`{member}` has empty cells: {empty[empty > 0].to_dict()}")
    return frame


def _temperature(raw: pd.DataFrame) -> pd.DataFrame:
    """``time (UTC), temperature (celsius)`` -> ``timestamp, temperature``, sorted by time."""
    stamps = pd.to_datetime(raw["time (UTC)"], format="%Y-%m-%dT%H:%M:%SZ")
    pd.to_numeric(raw["temperature (celsius)"])  # raises on a non-number
    out = pd.DataFrame(
        {
            "timestamp": stamps.dt.strftime("%Y-%m-%d %H:%M:%S"),
            "temperature": raw["temperature (celsius)"],
            "_key": stamps,
        }
    )
    out = out.sort_values("_key", kind="mergesort")  # stable: a duplicate keeps its source order
    # One timestamp appears twice in the source with two values; keep the first, as the
    # loader rejects duplicate timestamps within a series (the shared data's policy too).
    out = out.drop_duplicates("_key", keep="first")
    return out[TEMPERATURE_COLUMNS].reset_index(drop=True)


def _stocks(raw: pd.DataFrame) -> pd.DataFrame:
    """Long daily OHLCV, ``Adj Close`` renamed ``AdjClose``, sorted by Ticker then Date."""
    dates = pd.to_datetime(raw["Date"], format="%Y-%m-%d")
    for column in ["Open", "High", "Low", "Close", "Volume", "Adj Close"]:
        pd.to_numeric(raw[column])  # raises on a non-number
    out = raw.rename(columns={"Adj Close": "AdjClose"}).assign(_key=dates)
    out = out.sort_values(["Ticker", "_key"], kind="mergesort")
    return out[STOCKS_COLUMNS].reset_index(drop=True)


def _write(frame: pd.DataFrame, path: Path) -> str:
    """Write ``frame`` as a plain UTF-8 CSV with ``\\n`` line ends; return its sha256."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    writer.writerows(frame.itertuples(index=False, name=None))
    data = buffer.getvalue().encode("utf-8")
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def extract(package_files: list[Path], out_dir: Path) -> dict[str, str]:
    """Write ``buoy_temperature.csv`` and ``stocks.csv`` into ``out_dir``; return ``{name: sha256}``."""
    wheel_path = _find_wheel(package_files)
    with zipfile.ZipFile(wheel_path) as wheel:
        metadata = wheel.read(f"bokeh_sampledata-{EXPECTED_VERSION}.dist-info/METADATA").decode()
        version = next(
            (line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Version:")), None
        )
        if version != EXPECTED_VERSION:
            raise ExtractError(f"`{wheel_path}` must be {PACKAGE} {EXPECTED_VERSION}. Received: version={version}")
        record = {}
        for row in csv.reader(io.StringIO(wheel.read(RECORD_MEMBER).decode())):
            if row:
                record[row[0]] = row[1]
        inventory = {}
        for entry in json.loads(wheel.read(INVENTORY_MEMBER))["datasets"]:
            inventory.update(entry.get("sha256", {}))
        temperature_raw = _read_csv_text(
            _read_checked(wheel, TEMPERATURE_MEMBER, record, inventory), TEMPERATURE_SOURCE_COLUMNS, TEMPERATURE_MEMBER
        )
        stocks_raw = _read_csv_text(
            _read_checked(wheel, STOCKS_MEMBER, record, inventory), STOCKS_SOURCE_COLUMNS, STOCKS_MEMBER
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for name, frame in [("buoy_temperature.csv", _temperature(temperature_raw)), ("stocks.csv", _stocks(stocks_raw))]:
        outputs[name] = _write(frame, out_dir / name)
        print(f"{out_dir / name}  {len(frame)} rows  sha256 {outputs[name]}")
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("package_files", nargs="+", type=Path, help="downloaded package file(s), e.g. the wheel")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent, help="default: data/")
    args = parser.parse_args(argv)
    try:
        extract(args.package_files, args.out_dir)
    except ExtractError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
