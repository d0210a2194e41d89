"""The published numbers each design syntax reproduces: the citywide and county shares literate with
their standard errors, from estimates.csv (primary variance method)."""

from __future__ import annotations

import pandas as pd

from pipeline.publishing import labels as L


def published(estimates: pd.DataFrame, primary: str) -> pd.DataFrame:
    """domain_type, domain, n, est, se of the headline, citywide first, counties in published order."""
    sel = estimates[(estimates["estimand_id"] == L.HEADLINE) & (estimates["variance_method"] == primary)
                    & estimates["domain_type"].isin(["overall", "county"])].copy()
    sel["_rank"] = [-1 if t == "overall" else L.category_rank("county", d)[0]
                    for t, d in zip(sel["domain_type"], sel["domain"], strict=True)]
    sel = sel.sort_values("_rank", kind="mergesort")
    return sel[["domain_type", "domain", "n", "est", "se", "reliability"]].reset_index(drop=True)


def comment_block(pub: pd.DataFrame, prefix: str, width: int = 10) -> list[str]:
    """The numbers as comment lines: domain, share, SE (percent, 4 decimals) and both at full precision."""
    lines = [f"{prefix} 本脚本复现的已发布结果（具备科学素质的公民比例，复制权数方差）："]
    for r in pub.itertuples(index=False):
        name = r.domain
        if r.reliability == L.SUPPRESSED:  # withheld from publication: no number here either
            lines.append(f"{prefix}   {name:<{width}} {L.SUPPRESSED_NOTE}")
            continue
        lines.append(f"{prefix}   {name:<{width}} 比例 {100 * r.est:7.4f}%  标准误 {100 * r.se:6.4f} 个百分点"
                     f"  (est = {r.est:.15g}, se = {r.se:.15g})")
    return lines
