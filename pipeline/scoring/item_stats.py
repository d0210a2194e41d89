"""The item statistics table (ITEM_STATS): classical item analysis, key check and DIF in one row per item.

Columns beyond the contract, in the written file:
- type, points, key ("1,3" for several keys), n_dont_know, n_missing (refused/skipped/no row);
- flag_negative_discrimination (point_biserial < 0), flag_key_error, key_error_option (the option
  high scorers prefer to the key and that discriminates better than it), n_high, n_low (top and
  bottom 27% by rest score), high_share_key, low_share_key, top_distractor (the non-key option most
  chosen by high scorers), high_share_top_distractor, low_share_top_distractor;
- dimension_alpha, dimension_kr20, total_alpha, total_kr20: reliability of the item's dimension and
  of the whole test (repeated on each row of the dimension; KR-20 is NaN where partial credit exists);
- dif_<group>_{n, alpha_mh, d_dif, d_se, chi2, p, class, favours} for group sex (reference 男, focal 女)
  and urban (reference 城镇, focal 乡村); favours names the group the item is easier for, B/C only.

Population: scored respondents (see pipeline.scoring.psychometrics). p_correct_weighted uses the design
base weight n_adults / (p_psu · p_ssu · p_hh) from respondents.parquet, because the final weights are
computed in parallel with this stage and may not exist yet: it is design-weighted, not calibrated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.scoring import dif, psychometrics
from pipeline.scoring.items import ItemSet

# group column → (reference value, focal value)
DIF_GROUPS: dict[str, tuple[str, str]] = {"sex": ("男", "女"), "urban": ("城镇", "乡村")}
FULL_CREDIT = 1 - 1e-12


def focal_codes(values, reference: str, focal: str) -> np.ndarray:
    """1 focal, 0 reference, −1 neither; text columns are compared as they are stored, not as Python objects."""
    v = pd.Series(values, copy=False)
    is_focal = v.eq(focal).fillna(False).to_numpy(dtype=bool)
    is_reference = v.eq(reference).fillna(False).to_numpy(dtype=bool)
    return np.where(is_focal, 1, np.where(is_reference, 0, -1)).astype(np.int64)


@dataclass(frozen=True)
class ItemBasis:
    """What every item statistic rests on, from the n × k data once: the descriptives, the covariance of
    the item scores and the reliability (which the stage's outputs also carry as metadata)."""

    descriptives: pd.DataFrame
    cov: np.ndarray
    reliability: dict


def item_basis(iset: ItemSet, codes: np.ndarray, weight: np.ndarray) -> ItemBasis:
    """Codes and base weights of the scored respondents. One n × k float matrix at a time: the credit
    (missing as 0) for the shares correct and KR-20, turned in place into points for the covariance."""
    dims = np.array([it.dimension for it in iset.items], dtype=object)
    correct0 = np.fmax(iset.flat_credit, 0.0)[codes]
    out = psychometrics.descriptives(iset, codes, correct0, weight)
    kr20s = psychometrics.kr20_by_group(iset, correct0, dims)
    earned = correct0
    del correct0
    earned *= iset.points
    cov = psychometrics.covariance(earned, overwrite=True)
    del earned
    return ItemBasis(out, cov, psychometrics.reliability(iset, cov, dims, kr20s))


def item_stats(iset: ItemSet, codes: np.ndarray, total: np.ndarray, weight: np.ndarray,
               groups: Mapping[str, np.ndarray]) -> tuple[pd.DataFrame, dict]:
    """All arrays restricted to scored respondents: answer codes (n × k), each one's points before
    rounding (Scored.raw_total), base weight and DIF groupings. Returns (table, reliability by dimension
    and total)."""
    basis = item_basis(iset, codes, weight)
    return item_table(iset, basis, codes, total, groups), basis.reliability


def item_table(iset: ItemSet, basis: ItemBasis, codes: np.ndarray, total: np.ndarray,
               groups: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The ITEM_STATS table from the basis, adding the key check and DIF, which count each item's
    answer cells (arrays as for item_stats)."""
    dims = np.array([it.dimension for it in iset.items], dtype=object)
    out = basis.descriptives.copy()
    out.insert(1, "dimension", pd.array(dims.astype(str), dtype="str"))
    cov, rel = basis.cov, basis.reliability
    out["point_biserial"] = psychometrics.item_rest_correlation(cov)
    out["alpha_if_deleted"] = psychometrics.alpha_if_deleted(cov, dims)
    out["type"] = pd.array([it.type for it in iset.items], dtype="str")
    out["points"] = iset.points
    out["key"] = pd.array([",".join(str(k) for k in sorted(it.key)) for it in iset.items], dtype="str")
    out["dimension_alpha"] = [rel[d]["alpha"] for d in dims]
    out["dimension_kr20"] = [rel[d]["kr20"] for d in dims]
    out["total_alpha"] = rel["total"]["alpha"]
    out["total_kr20"] = rel["total"]["kr20"]
    out["flag_negative_discrimination"] = (out["point_biserial"] < 0).to_numpy(dtype=bool)
    present = {name: focal_codes(groups[name], *DIF_GROUPS[name]) for name in DIF_GROUPS if name in groups}
    # Strata are matched on the rest score of everyone scored: respondents outside a grouping (−1)
    # simply add no cell, so one count of each item's cells serves the key check and every grouping.
    cells = list(psychometrics.item_cells(iset, codes, total, list(present.values())))
    keys = psychometrics.key_check(iset, cells)
    out = out.merge(keys, on="item_id", how="left", validate="one_to_one")
    results = dif.dif_of_cells(cells, list(present), FULL_CREDIT)
    for name, res in results.items():
        ref, foc = DIF_GROUPS[name]
        out[f"dif_{name}_n"] = np.array([r["n"] for r in res], dtype=np.int64)
        out[f"dif_{name}_alpha_mh"] = [r["alpha_mh"] for r in res]
        out[f"dif_{name}_d_dif"] = [r["d_dif"] for r in res]
        out[f"dif_{name}_d_se"] = [r["d_se"] for r in res]
        out[f"dif_{name}_chi2"] = [r["chi2"] for r in res]
        out[f"dif_{name}_p"] = [r["p_value"] for r in res]
        out[f"dif_{name}_class"] = pd.array([r["class"] for r in res], dtype="str")
        out[f"dif_{name}_favours"] = pd.array(
            [None if r["class"] in (None, "A") else (ref if r["d_dif"] < 0 else foc) for r in res], dtype="str")
    for col in out.columns:
        if out[col].dtype.kind == "f":
            out[col] = out[col].replace([np.inf, -np.inf], np.nan)
    return out
