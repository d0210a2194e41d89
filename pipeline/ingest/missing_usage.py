"""How the delivery uses its declared missing codes: the counts of each code and the share of blank
cells in the item columns. A file re-saved without its user-missing definitions turns 97/98/99 into
blanks: the codes then never occur while blanks are frequent, and 不知道 silently stops counting as a
wrong answer. Ingest records these numbers; the publication gates and `pipeline check` judge them."""

from __future__ import annotations

import numpy as np

from pipeline.instruments.model import Instrument


def item_blank_shares(num: dict[str, np.ndarray], inst: Instrument) -> dict[str, float]:
    """Share of records whose answer to each item is blank (for a multiple-answer item: every option
    column blank)."""
    out = {}
    for it in inst.items:
        blank = None
        for c in it.raw_columns:
            b = np.isnan(num[c])
            blank = b if blank is None else blank & b
        out[it.id] = float(blank.mean()) if blank is not None and blank.size else 0.0
    return out


def missing_code_usage(num: dict[str, np.ndarray], inst: Instrument) -> dict:
    """{"codes": {code: count over item columns}, "blank_share": share of blank item answers, "answers": n}."""
    counts = {str(m.code): 0 for m in inst.missing_codes}
    for it in inst.items:
        for c in it.raw_columns:
            v = num[c]
            for m in inst.missing_codes:
                counts[str(m.code)] += int(np.count_nonzero(v == m.code))
    shares = item_blank_shares(num, inst)
    n = len(next(iter(num.values()))) if num else 0
    return {"codes": counts, "blank_share": float(np.mean(list(shares.values()))) if shares else 0.0,
            "answers": int(n * len(inst.items))}
