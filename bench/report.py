"""Plain-text tables for the benchmark reports."""


def table(rows: list[list[str]], aligns: str) -> str:
    """Rows as aligned text columns; the first row is the header. aligns: one "l" or "r" per column."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(w) if a == "l" else cell.rjust(w) for cell, w, a in zip(row, widths, aligns, strict=True)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
