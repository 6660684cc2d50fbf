"""Table writers shared by the stages: a pandas table as GitHub Markdown and as booktabs LaTeX."""

from __future__ import annotations

import pandas as pd


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``table`` (floats to 3 decimals)."""
    cells = table.map(lambda v: f"{v:.3f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(table.columns) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.to_numpy()]
    return "\n".join(lines) + "\n"


def to_latex(table: pd.DataFrame, caption: str) -> str:
    """A booktabs LaTeX table of ``table`` (floats to 3 decimals)."""
    cells = table.map(lambda v: f"{v:.3f}" if isinstance(v, float) else str(v).replace("_", r"\_"))
    header = " & ".join(c.replace("_", r"\_") for c in table.columns) + r" \\"
    body = "\n".join(" & ".join(row) + r" \\" for row in cells.to_numpy())
    return (
        "\\begin{table}\n\\centering\n"
        f"\\caption{{{caption}}}\n"
        f"\\begin{{tabular}}{{{'l' * len(table.columns)}}}\n\\toprule\n{header}\n\\midrule\n"
        f"{body}\n\\bottomrule\n\\end{{tabular}}\n\\end{{table}}\n"
    )
