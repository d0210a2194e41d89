"""report.html of the assessment: a self-contained Chinese evaluation report (中期评估报告 / 终期评估报告).

Every sentence with a number is built from the run's tables; the methods section is written from the
waves, rules and parameters actually used. Styles, figures and the font subset are embedded (the
per-wave bulletin's conventions, from the shared pipeline.publishing).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.assessment import tables as T
from pipeline.assessment.indicators.status import MET, NOT_MET, NOT_REPORTED
from pipeline.assessment.model import Assessment
from pipeline.assessment.projection import STATUS_ZH
from pipeline.publishing import labels as L
from pipeline.publishing.document import Section, Table
from pipeline.publishing.fonts import embedded_font_css
from pipeline.publishing.html import CSS, DEMO_BANNER, Numbering, e, section_html, table_html
from pipeline.vocabulary import OVERALL_LABEL, VARIANCE_METHOD_LABELS

KIND_ZH = {"midterm": "中期评估报告", "final": "终期评估报告"}
# every wave's design.yaml so far draws JKn replicates; the method name is added to the shared label
VAR_ZH = {**VARIANCE_METHOD_LABELS, "replicate": f"{VARIANCE_METHOD_LABELS['replicate']}（JKn）"}
PLAN_TITLE = "泉州市全民科学素质行动规划纲要实施方案（2021—2025年）"


def _pct(x) -> str:
    return L.fmt_pct(x)


def _pp(x) -> str:
    v = round(100 * float(x), 1) + 0.0  # + 0.0 turns a rounded −0.0 into 0.0
    return f"{v:+.1f}个百分点"


def _change(x) -> str:
    v = round(100 * float(x), 1) + 0.0
    return f"提高{v:.1f}个百分点" if v > 0 else f"下降{-v:.1f}个百分点" if v < 0 else "持平"


def city_sentence(a: Assessment) -> tuple[str, str]:
    """(Chinese sentence, English one-liner) for the city's trend in the last series."""
    city = a.trend[(a.trend["domain_type"] == "overall")].sort_values("wave")
    cur = city[city["series"] == city["series"].max()]
    path = "，".join(f"{int(r.wave)}年{L.fmt_pct(r.est, r.reliability)}（{L.ci_pct(a.ci_level)}置信区间"
                    f"{L.fmt_interval(r.lci, r.uci, 'proportion', r.reliability)}）" if r.reliability != L.SUPPRESSED
                    else f"{int(r.wave)}年{L.SUPPRESSED_NOTE}" for r in cur.itertuples(index=False))
    zh = f"{OVERALL_LABEL}具备科学素质的公民比例：{path}。"
    ch = a.changes[(a.changes["domain_type"] == "overall")]
    first, last = int(cur["wave"].iloc[0]), int(cur["wave"].iloc[-1])
    total = ch[(ch["wave_from"] == first) & (ch["wave_to"] == last) & ch["comparison"].isin(
        ["consecutive", "since_first_wave"])]
    if len(total) and pd.notna(total["diff"].iloc[0]):
        r = total.iloc[0]
        sig = "，变化具有统计显著性" if bool(r["significant"]) else "，变化不具有统计显著性"
        zh += (f"{last}年较{first}年{_change(r['diff'])}（标准误{100 * r['se']:.2f}个百分点，"
               f"p{'<0.001' if r['p_value'] < 0.001 else '=' + format(r['p_value'], '.3f')}{sig}）。")
    b = a.spec.baseline
    comparable = bool(ch.loc[ch["comparison"] == "since_baseline", "comparable"].any())
    zh += (f"{b.year}年末基线为{_pct(b.est)}，" + ("与本轮调查口径相同（检验见表2）" if comparable else
                                                  "其测评口径未公布，与本轮调查不构成同一序列"))
    if cur["reliability"].iloc[-1] != L.SUPPRESSED:
        zh += f"，{last}年与之相比{_change(float(cur['est'].iloc[-1]) - b.est)}" + ("" if comparable else "，仅作参考")
    zh += "。"
    line = " → ".join(f"{int(r.wave)}年 {L.fmt_pct(r.est, r.reliability)}" for r in cur.itertuples(index=False))
    return zh, f"{OVERALL_LABEL} {line}"


def _names(df: pd.DataFrame, col: str, value: str) -> str:
    names = df.loc[df[col] == value, "domain"].tolist()
    return "、".join(names) if names else "无"


def midterm_findings(a: Assessment) -> list[str]:
    p = a.projection
    out = []
    city = p[p["domain_type"] == "overall"].iloc[0]
    if pd.notna(city["projection"]):
        out.append(f"按{city['waves']}年调查的加权线性趋势外推，{int(city['projection_year'])}年{OVERALL_LABEL}比例约为"
                   f"{_pct(city['projection'])}（{city['interval']:.0%}外推区间{_pct(city['lower'])}–{_pct(city['upper'])}），"
                   f"趋势线在{city['waves'][-4:]}年的年变化{_pp(city['annual_change'])}；对照“{a.spec.final_year}年超过{a.spec.target:.0%}”的目标，"
                   f"中期状态为“{city['status_zh']}”。")
    else:
        out.append(f"{OVERALL_LABEL}暂无法外推：{city['reason']}。")
    counties = p[p["domain_type"] == "county"]
    for status in ("on_track", "at_risk", "off_track", "undetermined"):
        names = _names(counties, "status", status)
        n = int((counties["status"] == status).sum())
        if n:
            out.append(f"县（市、区）“{STATUS_ZH[status]}”{n}个：{names}。")
    groups = p[p["domain_type"] == "group"]
    if len(groups):
        out.append("重点人群：" + "；".join(f"{r.domain}{r.status_zh}" for r in groups.itertuples(index=False)) + "。")
    fewer = p[p["reason"].fillna("").str.contains("未用于外推")]
    if len(fewer):
        out.append("部分年份估计精度不足的地区按其余年份外推：" + "；".join(
            f"{r.domain}（依据{r.waves}年）" for r in fewer.itertuples(index=False)) + "。")
    return out


def final_findings(a: Assessment) -> list[str]:
    """Each count and name is read from the published verdict table (表“对照目标的结论”), so the summary and
    the tables cannot disagree."""
    ci = L.ci_pct(a.ci_level)
    pub = T.verdicts_published(a.verdicts, a.ci_level).frame
    city = pub[pub["范围"] == OVERALL_LABEL].iloc[0]
    v = a.verdicts[a.verdicts["domain_type"] == "overall"].iloc[0]
    out = [f"{int(city['年度'])}年{OVERALL_LABEL}具备科学素质的公民比例为{_pct(v['est'])}（{ci}置信区间{_pct(v['lci'])}–"
           f"{_pct(v['uci'])}），对照超过{a.spec.target:.0%}的目标，结论：{city['结论']}。"
           if v["reliability"] != L.SUPPRESSED else
           f"{int(city['年度'])}年{OVERALL_LABEL}比例不予发布，对照超过{a.spec.target:.0%}的目标，结论：{city['结论']}。"]
    for scope in ("县（市、区）", "重点人群"):
        rows = pub[pub["范围"] == scope]
        parts = []
        for word in [*L.VERDICT_LABELS.values(), L.NO_VERDICT]:
            names = rows.loc[rows["结论"] == word, "名称"].tolist()
            if names:
                parts.append(f"{word}{len(names)}个（{'、'.join(names)}）")
        withheld = rows.loc[rows["说明"] != "", "名称"].tolist()
        text = f"{scope}：" + "，".join(parts) + "。"
        if withheld:
            text += f"其中{'、'.join(withheld)}的估计值因精度不足不予发布，结论依据其{ci}置信区间。"
        out.append(text)
    r = a.ranking
    if r is not None and len(r):
        top = r.iloc[0]
        out.append(f"县区排名：{top['domain']}估计值最高，排第一的概率为{top['p_first']:.0%}，"
                   f"{a.spec.rank_interval:.0%}名次区间为{int(top['rank_lo'])}–{int(top['rank_hi'])}；相邻名次的县区多数"
                   "区间重叠，排名应结合区间解读。")
        model = r.loc[r.get("basis", pd.Series("direct", index=r.index)) == "model", "domain"].tolist()
        if model:
            out.append(f"{'、'.join(model)}{a.spec.final_year}年直接估计不予发布，按其{L.MODEL_LABEL}参加排名。")
    if a.unranked is not None and len(a.unranked):
        out.append("；".join(f"{d}未参加排名（{why}）" for d, why in zip(a.unranked["domain"], a.unranked["reason"],
                                                                    strict=True)) + "。")
    return out


def hindsight_findings(a: Assessment) -> list[str]:
    """The mid-term check beside the final outcome: was the early warning borne out?"""
    p, v = a.projection, a.verdicts
    city = p[p["domain_type"] == "overall"].iloc[0]
    out = []
    if pd.notna(city["projection"]):
        out.append(f"中期研判回顾：依据{city['waves']}年调查，中期外推{city['projection_year']}年{OVERALL_LABEL}为"
                   f"{_pct(city['projection'])}（{city['interval']:.0%}区间{_pct(city['lower'])}–{_pct(city['upper'])}），"
                   f"状态“{city['status_zh']}”。")
    counties = p[p["domain_type"] == "county"]
    parts = [f"“{STATUS_ZH[s]}”{int((counties['status'] == s).sum())}个（{_names(counties, 'status', s)}）"
             for s in STATUS_ZH if (counties["status"] == s).any()]
    if parts:
        out.append("中期各县（市、区）状态：" + "，".join(parts) + "。")
    both = hindsight(p, v)
    inside = both["inside"].dropna()
    if len(inside):
        out.append(f"终期实测值落在中期{city['interval']:.0%}外推区间内的地区共{int(inside.sum())}个（共{len(inside)}个可比较）。")
    return out


def hindsight(projection: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    m = projection.merge(verdicts[["domain_type", "domain", "est", "verdict_zh", "reliability"]],
                         on=["domain_type", "domain"], how="left")
    ok = m["projection"].notna() & m["est"].notna() & (m["reliability"] != "suppressed")
    m["inside"] = pd.array([bool(lo <= e <= hi) if k else pd.NA for lo, e, hi, k in
                            zip(m["lower"], m["est"], m["upper"], ok, strict=True)], dtype="boolean")
    return m


def position_findings(a: Assessment) -> list[str]:
    out = []
    for r in a.position.itertuples(index=False):
        when = f"{r.published_year}年" if r.same_year else f"最新发布的{r.published_year}年"
        out.append(f"与{r.area_zh}{when}（{_pct(r.published_est)}）相比，泉州{r.wave}年（{_pct(r.est)}）{r.position_zh}"
                   f"（差值{_pp(r.diff)}）。")
    return out


def indicator_findings(a: Assessment) -> list[str]:
    s, last = a.status, int(a.status["year"].max())
    latest = s[s["year"] == last]["status"].value_counts()
    err = a.issues[a.issues["severity"] == "error"]
    return [f"{len(a.summary)}项规划监测指标，{last}年：达标{int(latest.get(MET, 0))}项，未达标{int(latest.get(NOT_MET, 0))}项，"
            f"未报送{int(latest.get(NOT_REPORTED, 0))}项。",
            f"{s['year'].min()}—{last}年共读取报送文件{a.indicator_files}个，发现需处理的问题{len(err)}条（详见表“报送问题”）。",
            "未达标的指标年度：" + ("；".join(f"{r.name_zh}（{r.year}）" for r in s[s["status"] == NOT_MET]
                                      .itertuples(index=False)) or "无") + "。"]


def methods(a: Assessment) -> list[Section]:
    sp = a.spec
    ci = L.ci_pct(a.ci_level)
    wave_rows = []
    for w in a.waves:
        n = int(w.estimates.loc[w.estimates["domain_type"] == "overall", "n"].iloc[0])
        series = int(a.trend.loc[a.trend["wave"] == w.wave, "series"].iloc[0])
        wave_rows.append((str(w.wave), w.rule, str(series), VAR_ZH.get(w.variance_method, w.variance_method),
                          f"{n:,}", "是" if w.wave in a.demo_waves else "否"))
    waves_table = Table("纳入评估的调查", ("年度", "评分规则", "口径序列", "标准误方法", "样本量", "演示数据"),
                        tuple(wave_rows))
    n_series = int(a.trend["series"].max())
    series_text = ("各次调查评分规则相同，构成一条趋势线。" if n_series == 1 else
                   f"评分规则发生变化，形成{n_series}个口径序列；序列之间不计算变化、不拟合趋势、图中不连线。")
    b = sp.baseline
    items: list = [
        f"数据来源：各年度调查的估计结果与目标判定（各年调查数据处理流程的输出），评估不重新估计微观数据；"
        f"每年采用该年设计规定的主要标准误方法。{series_text}",
        waves_table,
        f"{b.year}年基线{_pct(b.est)}来源：{b.source}。其测评口径未公布，不能认定与本轮调查的评分规则"
        "相同，因此作为参考点单独标出，与之比较的差值仅作描述，不计算标准误和检验。",
        f"年度间变化：两次调查为独立样本，差值标准误为两次标准误平方和的平方根，自由度按Welch–Satterthwaite法，"
        f"双侧t检验，显著性水平{1 - sp.level:.2f}；被抑制（数据不足）的单元不计算变化。",
    ]
    # both reports state the mid-term rules: the final one restates the mid-term check beside the outcome
    rules = "；".join(f"{STATUS_ZH[k]}：{v}" for k, v in sp.status_rules.items() if k in STATUS_ZH)
    items += [
        f"中期外推（采用{a.projection_through}年及以前的调查）：在logit尺度上（各次调查的logit标准误按delta法为"
        " se/(p(1−p))），以标准误平方的倒数为权重，对logit(比例)与调查年份做加权最小二乘直线拟合，外推至"
        f"{sp.final_year}年；外推标准误为 sqrt(x0'(X'WX)⁻¹x0)，若各点偏离直线的程度超过抽样误差（Birge比"
        f" X²/(k−2) > 1），按该比值放大方差；外推区间取logit尺度的{sp.projection_interval:.0%}正态区间并变换回比例，"
        f"因此区间不超出0–100%。至少需要{sp.min_waves}次调查。",
        f"状态规则：{rules}。目标为{sp.final_year}年“{sp.target_comparison} "
        f"{sp.target:.0%}”。",
    ]
    if a.verdicts is not None:
        items += [
            f"终期结论：采用{sp.final_year}年调查估计阶段的判定：{ci}置信区间下限高于{sp.target:.0%}为“达到目标”，上限低于为"
            "“未达到目标”，否则为“尚不能判定”；单侧检验p值为logit尺度t检验。",
            f"县区排名：按各县区估计值及标准误，独立正态抽样{sp.rank_draws:,}次（随机种子{sp.rank_seed}），报告名次中位数、"
            f"{sp.rank_interval:.0%}名次区间、排第一和进入前三的概率；直接估计不予发布的县区以模型估计及其均方误差"
            "的平方根代替估计值和标准误。",
        ]
    items += [
        f"与全国、全省比较：已发布数值未附标准误，视为固定值；泉州{ci}置信区间整体高于（低于）该值记为“高于（低于）”，否则为"
        "“无显著差异”。各地测评口径可能不同，比较仅供参考。",
        "规划监测指标：各牵头单位按统一的填报模板逐年报送。每年指标：当年值与目标比较；"
        "累计指标：截至当年的累计值与按年份比例折算的应达值（目标×已过年数/5）比较，未报送年份按0计；到期比例或覆盖率指标："
        "到期前与从2021年报送值到到期目标的直线路径比较，到期年与目标比较。无有效报送的年度记为“未报送”。",
    ]
    return [Section("", tuple(items))]


def build_report(a: Assessment, figures: dict[str, Path]) -> tuple[str, str]:
    num = Numbering()

    def fig(stem: str, title: str) -> str:
        return num.figure(figures.get(stem), title)

    def tab(table: Table) -> str:
        return table_html(table, num)

    title = f"{PLAN_TITLE}{KIND_ZH[a.kind]}"
    city_zh, city_en = city_sentence(a)
    demo = bool(a.demo_waves) or a.demo_indicators
    parts = []
    if demo:
        parts.append(f'<div class="demo" role="alert">{e(DEMO_BANNER)}</div>')
    years = f"{a.waves[0].wave}—{a.through}"
    parts.append(f"<header><h1>{e(title)}</h1><p class=\"sub\">评估范围：{e(years)}年公民科学素质调查及规划监测指标　"
                 f"依据：泉政办〔2022〕25号 四（四）</p></header>")
    scope = ("《实施方案》四（四）规定2022—2024年为实施阶段并开展中期检查、2025年为总结评估阶段。"
             + (f"本报告为中期检查，依据{years}年各次公民科学素质调查和各牵头单位报送的规划监测指标，按现有趋势研判"
                f"{a.spec.final_year}年目标的实现前景。" if a.kind == "midterm" else
                f"本报告为终期评估，依据{years}年各次公民科学素质调查和各牵头单位报送的规划监测指标，对照"
                f"{a.spec.final_year}年目标作出结论。"))
    parts.append(f"<p>{e(scope)}</p>")
    summary = [city_zh] + (midterm_findings(a) if a.kind == "midterm" else final_findings(a) + hindsight_findings(a))
    latest = int(a.position["wave"].max()) if len(a.position) else None
    summary += [s for s, w in zip(position_findings(a), a.position["wave"], strict=True) if w == latest]
    summary += indicator_findings(a)[:1]
    parts.append("<h2>一、评估结论摘要</h2><ul class=\"findings\">" + "".join(f"<li>{e(s)}</li>" for s in summary) + "</ul>")

    trend_pub = T.trend_published(a.trend, a.ci_level)
    changes_pub = T.changes_published(a.changes, a.spec.level)
    parts.append(f"<h2>二、{OVERALL_LABEL}公民科学素质发展趋势</h2>" + fig("city_trend", f"{OVERALL_LABEL}具备科学素质的公民比例变化趋势"))
    parts.append(tab(T.html_table(trend_pub, f"{OVERALL_LABEL}具备科学素质的公民比例", rows=trend_pub.frame["范围"] == OVERALL_LABEL)))
    parts.append(tab(T.html_table(changes_pub, f"{OVERALL_LABEL}比例的变化及检验", rows=changes_pub.frame["范围"] == OVERALL_LABEL,
                                         note="“较2020年基线”的差值口径不同，仅作参考，不做检验。")))

    parts.append('<h2 class="newpage">三、各县（市、区）</h2>' + fig("counties", "各县（市、区）比例变化趋势"))
    if a.kind == "midterm":
        proj = T.projection_published(a.projection)
        parts.append(tab(T.html_table(proj, "中期研判：各地区外推至2025年的比例与状态",
                                             note="状态规则见“评估方法”。")))
    else:
        ver = T.verdicts_published(a.verdicts, a.ci_level)
        parts.append(tab(T.html_table(ver, f"{a.spec.final_year}年对照目标的结论",
                                             rows=ver.frame["范围"] != "重点人群")))
        h = hindsight(a.projection, a.verdicts)
        rows = tuple((T.DTYPE_ZH.get(r.domain_type, r.domain_type), r.domain, r.status_zh, _pct(r.projection),
                      f"{_pct(r.lower)}–{_pct(r.upper)}" if pd.notna(r.lower) else L.DASH,
                      _pct(r.est) if r.reliability != "suppressed" else L.DASH, str(r.verdict_zh),
                      L.DASH if pd.isna(r.inside) else ("是" if r.inside else "否"))
                     for r in T.order_domains(h).itertuples(index=False))
        parts.append(tab(Table(f"中期研判（{a.projection_through}年及以前的调查）与终期结果对照",
                                      ("范围", "名称", "中期状态", "中期外推值", f"{a.spec.projection_interval:.0%}外推区间",
                                       f"{a.spec.final_year}年估计值", "终期结论", "落在外推区间内"), rows)))
        parts.append(fig("ranking", "各县（市、区）排名及其不确定性"))
        parts.append(tab(T.html_table(T.ranking_published(a.ranking, a.spec.rank_interval), "县区排名的不确定性",
                                      note="直接估计不予发布的县（市、区）按其模型估计（面积层次Fay–Herriot模型）"
                                           "及模型均方误差参加排名，并在“估计方法”列注明。")))
    last = int(a.trend["wave"].max())
    parts.append(tab(T.html_table(changes_pub, f"各县（市、区）{last}年较上次调查的变化",
                                         rows=(changes_pub.frame["范围"] == "县（市、区）") & (changes_pub.frame["结束年"] == last)
                                         & (changes_pub.frame["比较"] == "相邻两次调查"))))

    parts.append("<h2>四、重点人群</h2>" + fig("groups", "重点人群比例变化趋势"))
    parts.append(tab(T.html_table(trend_pub, "重点人群具备科学素质的公民比例",
                                         rows=trend_pub.frame["范围"] == "重点人群")))
    if a.verdicts is not None:
        ver = T.verdicts_published(a.verdicts, a.ci_level)
        parts.append(tab(T.html_table(ver, "重点人群对照目标的结论", rows=ver.frame["范围"] == "重点人群")))

    parts.append("<h2>五、与全国、全省水平比较</h2><ul class=\"findings\">"
                 + "".join(f"<li>{e(s)}</li>" for s in position_findings(a)) + "</ul>")
    parts.append(tab(T.html_table(T.position_published(a.position, a.ci_level), "与已发布数值的比较")))

    parts.append('<h2 class="newpage">六、规划监测指标完成情况</h2><ul class="findings">'
                 + "".join(f"<li>{e(s)}</li>" for s in indicator_findings(a)) + "</ul>")
    parts.append(fig("indicators", "规划监测指标完成情况"))
    parts.append(tab(T.html_table(T.indicator_status_published(a.status), "监测指标分年度完成情况")))
    issues = a.issues
    parts.append(tab(T.html_table(T.indicator_issues_published(issues, {t.id: t.name_zh for t in a.plan.targets}), "报送文件的问题清单",
                                         note="“错误”的内容未被采用；“提示”的内容已采用。")))

    parts.append('<h2 class="newpage">七、评估方法</h2>')
    parts += [section_html(s, numbering=num) for s in methods(a)]
    foot = ("本报告的全部数值由评估流程根据各年度调查估计结果和监测指标报送文件自动生成；完整表格见随报告发布的"
            "Excel工作簿，各输入文件的校验值随评估结果一并存档。")
    if demo:
        foot = DEMO_BANNER + "。" + foot
    parts.append(f"<footer>{e(foot)}</footer>")
    body = "\n".join(parts)
    page = ('<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n<style>{embedded_font_css(title + body)}{CSS}</style>\n</head>\n<body>\n"
            f"<main>\n{body}\n</main>\n</body>\n</html>\n")
    return page, city_en
