"""Final dispositions → AAPOR response rates, and the weighting-class non-response adjustment.

Disposition codes follow AAPOR Standard Definitions: 1.1 complete (I), 1.2 partial (P), 2.1x refusal
and break-off (R), 2.2x non-contact (NC), 2.3x other (O), 3.x unknown eligibility (U = UH + UO),
4.x not eligible (NE). A complete whose record ingest quarantined is not a usable interview: it is
counted as "other" (O) in the rates and as an eligible non-respondent in the adjustment.

Rates (unweighted, per AAPOR):
    RR1   = I / ((I + P) + (R + NC + O) + U)
    RR3   = I / ((I + P) + (R + NC + O) + e·U),   e = (I + P + R + NC + O) / (I + P + R + NC + O + NE)
    COOP1 = I / ((I + P) + R + O)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import InputError, PipelineError
from pipeline.survey_design.codes import factorize_sorted, group_sums
from pipeline.vocabulary import OVERALL_LABEL

CITY = OVERALL_LABEL

# status codes used by the adjustment: respondent, eligible non-respondent, unknown, not eligible
RESP, ENR, UNK, NE = 0, 1, 2, 3


def aapor_category(disposition: pd.Series, respondent_id: pd.Series, path: str = "contacts.parquet") -> pd.Series:
    """Map each disposition to I, P, R, NC, O, U or NE; quarantined completes become O."""
    d = disposition.astype("string").str.strip()
    cat = pd.Series(pd.NA, index=d.index, dtype="string")
    rules = [("1.1", "I"), ("1.2", "P"), ("2.1", "R"), ("2.2", "NC"), ("2.3", "O"), ("3.", "U"), ("4.", "NE")]
    for prefix, name in rules:
        cat = cat.mask(cat.isna() & d.str.startswith(prefix).fillna(False), name)
    bad = cat.isna()
    if bad.any():
        vals = sorted(set(d[bad].fillna("<missing>").astype(str)))[:5]
        raise InputError(
            f"{path}, column 'disposition': {int(bad.sum())} value(s) that are not AAPOR final disposition "
            f"codes, e.g. {vals}. Use 1.1, 1.2, 2.1x, 2.2x, 2.3x, 3.x or 4.x."
        )
    unusable = (cat == "I") & respondent_id.isna()
    return cat.mask(unusable, "O")


def response_rates(contacts: pd.DataFrame, by: str = "county_code") -> pd.DataFrame:
    """RR1, RR3 and COOP1 per `by` level and for the whole city (level OVERALL_LABEL), with the counts."""
    cat = aapor_category(contacts["disposition"], contacts["respondent_id"])
    counts = pd.crosstab(contacts[by].astype(str), cat)
    for c in ("I", "P", "R", "NC", "O", "U", "NE"):
        if c not in counts:
            counts[c] = 0
    counts.loc[CITY] = counts.sum()
    n = counts.astype(float)
    resolved_elig = n["I"] + n["P"] + n["R"] + n["NC"] + n["O"]
    e = resolved_elig / (resolved_elig + n["NE"])
    out = pd.DataFrame({
        "e": e,
        "rr1": n["I"] / (resolved_elig + n["U"]),
        "rr3": n["I"] / (resolved_elig + e * n["U"]),
        "coop1": n["I"] / (n["I"] + n["P"] + n["R"] + n["O"]),
    })
    return pd.concat([counts[["I", "P", "R", "NC", "O", "U", "NE"]], out], axis=1)


@dataclass(frozen=True)
class NonresponseAdjustment:
    factors: np.ndarray  # (n_class, R) adjustment factor of respondents in each class
    eligibility: np.ndarray  # (n_class, R) estimated eligible share e among resolved cases
    class_labels: tuple[str, ...]
    resp_class: np.ndarray  # (n_resp,) class code of each respondent


def nonresponse_adjustment(contacts: pd.DataFrame, hh_weights: np.ndarray, classes: tuple[str, ...],
                           respondent_ids: pd.Series, psu: np.ndarray | None = None,
                           psu_factors: np.ndarray | None = None) -> NonresponseAdjustment:
    """Weighting-class adjustment: respondents in a class carry the weight of the class's eligible
    non-respondents and of the estimated eligible share e of its unknown-eligibility cases.

    `hh_weights` are household base weights (n_hh,) or (n_hh, R); all columns are done at once.
    With `psu` (each household's PSU code) and `psu_factors` (PSUs × R replicate factors), the
    replicate columns are never formed per household: a factor is constant within a PSU, so the class
    sums are the (class, status) × PSU sums of the base weights times the factors, one product.
    With weighted sums per class,  e = (RESP + ENR) / (RESP + ENR + NE)  and
    factor = (RESP + ENR + e · UNK) / RESP; not-eligible households drop out.
    """
    missing = [c for c in classes if c not in contacts.columns]
    if missing:
        raise InputError(f"contacts.parquet lacks the weighting-class column(s) {missing} named in design.yaml "
                         "(weighting.nonresponse.classes).")
    cat = aapor_category(contacts["disposition"], contacts["respondent_id"])
    status = np.select([cat.eq("I").to_numpy(bool), cat.isin(["P", "R", "NC", "O"]).to_numpy(bool),
                        cat.eq("U").to_numpy(bool)], [RESP, ENR, UNK], NE)
    keys = contacts[classes[0]].astype(str).to_numpy(dtype=object)
    for c in classes[1:]:
        keys = keys + "|" + contacts[c].astype(str).to_numpy(dtype=object)
    cls, labels = factorize_sorted(keys.astype(str))
    k = len(labels)
    if psu_factors is not None:
        P = psu_factors.shape[0]
        cell = (cls * 4 + status) * P + np.asarray(psu, dtype=np.int64)
        by_psu = np.bincount(cell, weights=hh_weights, minlength=k * 4 * P).reshape(k * 4, P)
        sums = (by_psu @ psu_factors).reshape(k, 4, psu_factors.shape[1])
    else:
        W = hh_weights if hh_weights.ndim == 2 else hh_weights[:, None]
        sums = group_sums(cls * 4 + status, W, k * 4).reshape(k, 4, W.shape[1])
    resp, enr, unk, ne = sums[:, RESP], sums[:, ENR], sums[:, UNK], sums[:, NE]
    resolved = resp + enr + ne
    e = np.divide(resp + enr, resolved, out=np.ones_like(resolved), where=resolved > 0)
    need = resp + enr + e * unk
    full_bad = np.flatnonzero((resp[:, 0] == 0) & (need[:, 0] > 0))
    if full_bad.size:
        raise PipelineError(
            f"non-response classes {[str(labels[i]) for i in full_bad[:5]]} have eligible sampled households but "
            "no respondent, so their weight cannot be carried by anyone. Use coarser classes in design.yaml "
            "(weighting.nonresponse.classes)."
        )
    # In a replicate a class may lose all its respondents with its PSUs; nothing is left to carry.
    f = np.divide(need, resp, out=np.zeros_like(need), where=resp > 0)

    rid = contacts["respondent_id"]
    pos = pd.Series(np.arange(len(contacts)), index=rid.astype("string"))
    pos = pos[rid.notna().to_numpy()]
    if pos.index.duplicated().any():
        dup = pos.index[pos.index.duplicated()][:3].tolist()
        raise InputError(f"contacts.parquet, column 'respondent_id': ids {dup} appear in more than one household.")
    idx = pos.reindex(respondent_ids.astype("string").to_numpy())
    if idx.isna().any():
        lost = respondent_ids[idx.isna().to_numpy()].head(3).tolist()
        raise InputError(
            f"respondents.parquet has {int(idx.isna().sum())} respondent(s) with no household in contacts.parquet, "
            f"e.g. {lost}. Ingest must give every accepted respondent its household's respondent_id."
        )
    resp_class = cls[idx.to_numpy(np.int64)]
    if (status[idx.to_numpy(np.int64)] != RESP).any():
        raise InputError("contacts.parquet: a respondent's household does not carry disposition 1.1 (complete).")
    return NonresponseAdjustment(f, e, tuple(str(x) for x in labels), resp_class)
