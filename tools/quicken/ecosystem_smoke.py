"""Exercise the C-extension packages of ``quicken verify``'s ecosystem stage.

Run with the ecosystem venv's python on the stock and on the patched build;
the two standard outputs must be identical.  So this prints only semantic
results -- values, exception types and messages -- deterministically: fixed
inputs, no timings, no memory addresses, no hash-order-dependent output.
Each section runs on its own; a section that raises prints the exception's type
and message and the others still run.

Run by hand: ``<venv>/bin/python tools/quicken/ecosystem_smoke.py``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

SECTIONS: list[Callable[[], None]] = []


def section(fn: Callable[[], None]) -> Callable[[], None]:
    SECTIONS.append(fn)
    return fn


def out(*args: object) -> None:
    print(*args)


@section
def numpy_() -> None:
    import numpy as np

    a = np.arange(24, dtype=np.int64).reshape(4, 6)
    out("shape", a.shape, "sum", int(a.sum()))
    out("axis0", a.sum(axis=0).tolist(), "axis1", a.sum(axis=1).tolist())
    out("mean", float(a.mean()), "std", round(float(a.std()), 10), "cumsum", a.ravel().cumsum()[-5:].tolist())
    b = (a * 3 - 7) // 4 % 5
    out("int ops", b[1].tolist(), "where", np.where(a % 7 == 0)[1].tolist())
    x = np.linspace(0.0, 2.0, 9)
    out("ufuncs", [round(float(v), 12) for v in np.sin(x) + np.exp(-x) * np.sqrt(x)])
    out("float reductions", round(float(np.prod(x[1:])), 12), float(x.max()), int(x.argmax()))
    m = np.array([[4.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 3.0]])
    out("matmul", (m @ m).tolist(), "solve", np.round(np.linalg.solve(m, [11.0, -16.0, 17.0]), 10).tolist())
    out("det", round(float(np.linalg.det(m)), 10), "eigvalsh", np.round(np.linalg.eigvalsh(m), 10).tolist())
    s = np.array([5, 3, 9, 1, 3, 7, 2], dtype=np.int32)
    out("sort", np.sort(s).tolist(), "argsort", np.argsort(s, kind="stable").tolist(),
        "unique", np.unique(s, return_counts=True)[1].tolist())
    out("bool", (s > 3).tolist(), "any/all", bool((s > 8).any()), bool((s > 0).all()))
    out("broadcast", (np.arange(3)[:, None] * np.arange(4)[None, :]).tolist())
    out("fancy", a[[0, 2, 3], [1, 4, 5]].tolist(), "mask", a[a > 20].tolist())
    out("dtype promotion", str((np.int8(100) + np.int16(1)).dtype), str((np.float32(1) * 2.5).dtype))
    out("overflow wraps", (np.array([2**62 + 3], dtype=np.int64) * 4).tolist())
    out("rng", np.random.default_rng(12345).integers(0, 100, size=8).tolist())
    out("strings", np.char.upper(np.array(["ab", "cd"])).tolist(), np.array(["x", "yy"]).dtype.str)
    try:
        np.ones((2, 3)) @ np.ones((2, 3))
    except ValueError as exc:
        out("ValueError", str(exc).split(" (")[0])


@section
def pandas_() -> None:
    import pandas as pd

    df = pd.DataFrame({
        "city": ["Oslo", "Lima", "Oslo", "Pune", "Lima", "Oslo"],
        "year": [2020, 2020, 2021, 2021, 2021, 2022],
        "value": [1.5, 2.0, 3.25, 4.0, 5.5, 6.0],
        "n": [1, 2, 3, 4, 5, 6],
    })
    g = df.groupby("city").agg(total=("value", "sum"), count=("n", "count"), mx=("n", "max"))
    out("groupby", g.reset_index().to_dict(orient="records"))
    out("pivot", df.pivot_table(index="city", columns="year", values="n", aggfunc="sum", fill_value=0)
        .to_dict(orient="split"))
    other = pd.DataFrame({"city": ["Oslo", "Lima", "Rome"], "country": ["NO", "PE", "IT"]})
    merged = df.merge(other, on="city", how="left").sort_values(["city", "year"], kind="stable")
    out("merge", merged[["city", "year", "country"]].fillna("-").values.tolist())
    out("outer", df.merge(other, on="city", how="outer")["city"].value_counts().sort_index().to_dict())
    dates = pd.date_range("2024-02-27", periods=5, freq="D")
    ts = pd.Series(range(5), index=dates)
    out("dates", [d.isoformat() for d in dates], "weekday", list(dates.day_name()))
    out("resample", ts.resample("2D").sum().tolist(), "shift", ts.shift(1).fillna(-1).tolist())
    stamp = pd.Timestamp("2024-03-10 01:30", tz="America/New_York") + pd.Timedelta(hours=1)
    out("tz", stamp.isoformat(), pd.Timestamp("2024-01-31") + pd.offsets.MonthEnd(1))
    parsed = pd.to_datetime(["2024-01-05", "2023-12-31 23:59:59"], format="ISO8601")
    out("parse", parsed.strftime("%Y/%m/%d %H:%M").tolist())
    out("rolling", df["value"].rolling(3).mean().round(6).fillna(0).tolist())
    out("strings", df["city"].str.upper().str.cat(sep="|"), df["city"].str.len().tolist())
    out("categorical", pd.Categorical(df["city"]).codes.tolist())
    out("describe", df["value"].describe().round(6).to_dict())
    out("csv", df.head(2).to_csv(index=False).strip().splitlines())


@section
def pydantic_core_() -> None:
    from pydantic_core import SchemaValidator, ValidationError, core_schema

    schema = core_schema.typed_dict_schema({
        "name": core_schema.typed_dict_field(core_schema.str_schema(min_length=2)),
        "age": core_schema.typed_dict_field(core_schema.int_schema(ge=0, le=150)),
        "tags": core_schema.typed_dict_field(core_schema.list_schema(core_schema.str_schema()),
                                             required=False),
        "score": core_schema.typed_dict_field(core_schema.float_schema(), required=False),
    })
    v = SchemaValidator(schema)
    out("valid", sorted(v.validate_python({"name": "Ada", "age": "36", "tags": ["x", "y"]}).items()))
    out("json", sorted(v.validate_json('{"name": "Bob", "age": 7, "score": 2.5}').items()))
    for bad in ({"name": "A", "age": -1}, {"name": "Cy", "age": "old", "tags": [1]}, {"age": 3}):
        try:
            v.validate_python(bad)
        except ValidationError as exc:
            out("errors", exc.error_count(), [(e["type"], e["loc"], e["msg"]) for e in exc.errors()])
    try:
        SchemaValidator(core_schema.int_schema(strict=True)).validate_python("5")
    except ValidationError as exc:
        out("strict", str(exc).splitlines()[0], "|", str(exc).splitlines()[1].split(" [")[0])


@section
def orjson_() -> None:
    import orjson

    doc = {"b": [1, 2.5, None, True], "a": {"nested": "ünïcödé ✓", "big": 2**53}, "empty": []}
    data = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    out("dumps", data.decode())
    out("roundtrip", orjson.loads(data) == doc, orjson.dumps(orjson.loads(data), option=orjson.OPT_SORT_KEYS)
        == data)
    out("indent", orjson.dumps({"k": [1, {"x": 2}]}, option=orjson.OPT_INDENT_2).decode().splitlines())
    try:
        orjson.loads(b'{"a": [1, 2')
    except orjson.JSONDecodeError as exc:
        out("JSONDecodeError", str(exc))
    try:
        orjson.dumps({1: "int key"})
    except TypeError as exc:
        out("TypeError", str(exc))


@section
def msgpack_() -> None:
    import msgpack

    doc = {"ints": [0, -1, 127, 128, -33, 2**32, -(2**63)], "str": "héllo", "bin": b"\x00\xff",
           "float": 1.25, "nested": {"t": (1, 2)}, "none": None}
    packed = msgpack.packb(doc, use_bin_type=True)
    out("packed", len(packed), packed.hex())
    back = msgpack.unpackb(packed, raw=False, strict_map_key=False)
    out("roundtrip", back == {**doc, "nested": {"t": [1, 2]}}, sorted(back))
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(msgpack.packb([1, 2]) + msgpack.packb("x") + msgpack.packb({"k": 3.5}))
    out("stream", list(unpacker))
    try:
        msgpack.unpackb(b"\x93\x01\x02")
    except Exception as exc:
        out(type(exc).__name__, str(exc))


@section
def regex_() -> None:
    import regex

    text = "Straße café naïve ΑΒΓ αβγ 東京 2024-03-01 x=12, y=-7"
    out("words", regex.findall(r"\p{L}+", text))
    out("greek", regex.findall(r"\p{Greek}+", text), "han", regex.findall(r"\p{Han}+", text))
    out("casefold", bool(regex.fullmatch(r"(?fi)strasse", "STRAßE")))
    m = regex.search(r"(?P<y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)", text)
    assert m is not None
    out("date", m.groupdict(), m.span())
    out("numbers", [int(n) for n in regex.findall(r"-?\d+(?=,|$)", text)])
    out("fuzzy", bool(regex.fullmatch(r"(?:colour){e<=1}", "color")))
    out("repeated captures", regex.match(r"(?:(\w)\d)+", "a1b2c3").captures(1))
    out("sub", regex.sub(r"(\p{Lu})", r"<\1>", "Hello World Éa"))
    out("split", regex.split(r"[\s,]+", "a, b  c,d"))
    out("overlapped", regex.findall(r"\w\w", "abcd", overlapped=True))
    try:
        regex.compile(r"(unclosed")
    except regex.error as exc:
        out("error", str(exc))


def main() -> int:
    failed = 0
    for fn in SECTIONS:
        out(f"== {fn.__name__.rstrip('_')}")
        try:
            fn()
        except Exception as exc:
            failed += 1
            out(f"!! {type(exc).__name__}: {exc}")
            traceback.print_exc(file=sys.stderr)
    out(f"== done: {len(SECTIONS) - failed}/{len(SECTIONS)} sections ran")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
