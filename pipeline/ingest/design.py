"""Variance strata and PSUs of the sample design, the same for respondents and for the contact sheet."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.ingest.columns import per_combination, text_column


def design_units(county_code, township, village, p_psu) -> tuple[pd.Series, pd.Series]:
    """(stratum, psu) text columns. A township taken with certainty (π = 1) is not a sampled unit: it
    becomes a stratum of its own and its sampled villages are the PSUs, as a survey statistician would set
    it up. Worked out once per distinct (county, township, village, certainty) combination."""
    certain = np.asarray(p_psu, dtype=float) >= 1.0 - 1e-12

    def units(county, town, vill, sure):
        return (f"{county}/{town}", str(vill)) if sure else (str(county), str(town))

    index, result = per_combination(units, county_code, township, village, certain)
    return text_column(index, [s for s, _ in result]), text_column(index, [p for _, p in result])
