"""Run the chapters as another device would, and report which asserts would not hold there.

    python -m tools.other_device [--streams N] [--jobs J] [SLUG ...]

A GPU (or another CPU) starts from the same weights as the machine that wrote the book, but
two things differ on the way:

- **dropout draws other masks.** CUDA's generator is not the CPU's, so from the first
  training step on, a GPU run follows another trajectory. Here every dropout (``F.dropout``,
  ``nn.Dropout`` and the dropout inside ``F.scaled_dot_product_attention``) draws its masks
  from a private generator seeded by the stream number; the global generator is left alone,
  as a GPU leaves the CPU's alone;
- **floats are summed in another order.** Each run uses other kernels
  (``ATEN_CPU_CAPABILITY=default``, ``MKL_ENABLE_INSTRUCTIONS=SSE4_2``).

Cells guarded by ``if device.type == "cpu"`` (comparisons with a record trained on a CPU)
are skipped, as on a GPU. Every chapter runs in its English edition (both editions' code is
the same, ``tests/test_bilingual.py``) once per stream, and every failing cell is reported
in ``benchmarks/other_devices.md``. An assert that fails here would fail for some reader.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import nbformat

from tools.benchmark_notebooks import cpu_name
from tools.notebooks import execute
from tools.project import ROOT, reader_path, slugs

REPORT = ROOT / "benchmarks" / "other_devices.md"
OTHER_KERNELS = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}
ON_THE_CPU, NOT_ON_THE_CPU = 'device.type == "cpu"', "False"

OTHER_DROPOUT = '''\
import torch
import torch.nn.functional as F

_stream = torch.Generator().manual_seed({stream})
_dropout, _attention = F.dropout, F.scaled_dot_product_attention


def _other_dropout(input, p=0.5, training=True, inplace=False):
    if not training or p == 0.0:
        return _dropout(input, p, training, inplace)
    keep = torch.empty(input.shape).bernoulli_(1 - p, generator=_stream)
    out = input * keep.to(input.device, input.dtype) / (1 - p)
    return input.copy_(out) if inplace else out


def _other_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                     enable_gqa=False):
    if dropout_p == 0.0:
        return _attention(query, key, value, attn_mask=attn_mask, is_causal=is_causal, scale=scale,
                          enable_gqa=enable_gqa)
    scores = query @ key.transpose(-2, -1) * (query.shape[-1] ** -0.5 if scale is None else scale)
    if is_causal:
        attn_mask = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device).tril()
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    elif attn_mask is not None:
        scores = scores + attn_mask
    return _other_dropout(scores.softmax(-1), dropout_p) @ value


F.dropout, F.scaled_dot_product_attention = _other_dropout, _other_attention
'''


def as_another_device(nb: nbformat.NotebookNode, stream: int) -> nbformat.NotebookNode:
    """The notebook with the other dropout first and the CPU-only asserts switched off."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace(ON_THE_CPU, NOT_ON_THE_CPU)
    nb.cells.insert(0, nbformat.v4.new_code_cell(OTHER_DROPOUT.format(stream=stream)))
    return nb


def failures(nb: nbformat.NotebookNode) -> list[str]:
    """One line per failing cell: its number in the reader notebook and the error's last line."""
    found = []
    for index, cell in enumerate(nb.cells[1:]):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                first_line = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
                error = f"{output.ename}: {output.evalue[:200]}".replace("|", "\\|").replace("\n", " ")
                found.append(f"cell {index} (`{first_line}`): {error}")
    return found


def run(slug: str, stream: int) -> tuple[float, list[str]]:
    nb = as_another_device(nbformat.read(reader_path("en", slug), as_version=4), stream)
    saved = {name: os.environ.get(name) for name in OTHER_KERNELS}
    os.environ.update(OTHER_KERNELS)
    try:
        seconds = execute(nb, "en", allow_errors=True)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return seconds, failures(nb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.other_device", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("slugs", nargs="*", help="chapters to run (default: all)")
    parser.add_argument("--streams", type=int, default=3, help="dropout streams per chapter (seeds 1 … N)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (one thread each)")
    args = parser.parse_args(argv)

    tasks = [(slug, stream) for slug in args.slugs or slugs() for stream in range(1, args.streams + 1)]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:  # one kernel each: the runs do not share state
        results = list(pool.map(run, *zip(*tasks, strict=True)))
    rows = [(slug, stream, seconds, found) for (slug, stream), (seconds, found) in zip(tasks, results, strict=True)]
    for slug, stream, seconds, found in rows:
        print(f"{slug} stream {stream}: {seconds:.1f} s, {len(found)} failing cell(s)")
        for line in found:
            print("   ", line)
    failed = sum(bool(found) for *_, found in rows)
    lines = [
        "# The chapters as another device would run them",
        "",
        f"Measured {datetime.date.today().isoformat()} by "
        f"`python -m tools.other_device --streams {args.streams} --jobs {args.jobs}` "
        f"on {cpu_name()}, {os.cpu_count()} cores, one thread. Every run: the English edition, dropout masks from "
        "a private generator seeded by the stream, `ATEN_CPU_CAPABILITY=default` and `MKL_ENABLE_INSTRUCTIONS=SSE4_2`, "
        "`if device.type == \"cpu\"` read as `if False` (the tool's docstring says why).",
        "",
        "| chapter | dropout stream | seconds | failing cells |",
        "|---|---:|---:|---|",
    ]
    for slug, stream, seconds, found in rows:
        lines.append(f"| `{slug}` | {stream} | {seconds:.1f} | {'<br>'.join(found) if found else 'none'} |")
    lines += ["", f"Runs with a failing cell: {failed} of {len(rows)}.", ""]
    REPORT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
