"""Chinese text decoded with the wrong code page is refused, by ingest's reader and by `pipeline check`, with
the file, the column, an example that cannot be a person's value, and how to fix it. The mojibake is made
here the way it arises: Chinese encoded as UTF-8 (or GBK) and decoded as Latin-1 or Windows-1252."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.check import check_delivery
from pipeline.errors import InputError
from pipeline.ingest.readers import garbled, read_raw
from pipeline.vocabulary import counties
from tests.delivery.helpers import copy_wave, read_sav, resave

# what a delivery's county column holds: names of county units (鲤城区, 丰泽区, 南安市, 德化县)
COUNTY_NAMES = [counties().names[i] for i in (0, 1, 10, 7)]
NAMES = ["陈志明", "林淑芬", "黄建华", "王丽娟", "张伟"]  # shaped like names: never to appear in a message


def latin1(zh: str) -> str:
    return zh.encode("utf-8").decode("latin-1")


def cp1252(zh: str) -> str:
    return zh.encode("utf-8").decode("cp1252", errors="strict")


def _csv(tmp_path, county: list[str], name: list[str], encoding: str = "utf-8-sig"):
    path = tmp_path / "survey.csv"
    n = len(county)
    pd.DataFrame({"WJBH": range(1, n + 1), "XIAN": county, "XM": name, "Q01": [1] * n}).to_csv(
        path, index=False, encoding=encoding)
    return path


@pytest.mark.parametrize("zh, wrong", [("南安", latin1("南安")), ("中", latin1("中")), ("鲤城区", cp1252("鲤城区")),
                                       ("不知道", latin1(latin1("不知道"))),  # decoded wrongly twice: "Ã¤Â¸Â­"
                                       ("泉州市", "泉州市".encode("gbk").decode("latin-1"))])
def test_garbled_reads_back(zh, wrong):
    g = garbled(wrong)
    assert g is not None and g.reading == zh


def test_gbk_read_as_utf8_is_garbled():
    lost = "南安市".encode("gbk").decode("utf-8", errors="replace")
    assert garbled(lost).kind == "lost"


@pytest.mark.parametrize("text", ["阿卜杜·热合曼", "25°C", "×2", "—", "“是”", "José", "Müller", "1,3", "初中", "A;C"])
def test_no_false_alarm_on_plausible_text(text):
    assert garbled(text) is None


def test_utf8_csv_declared_latin1_is_refused(tmp_path):
    county = [COUNTY_NAMES[i % 4] for i in range(40)]
    path = _csv(tmp_path, county, [NAMES[i % 5] + str(i) for i in range(40)])
    with pytest.raises(InputError) as err:
        read_raw(path, encoding="latin-1")
    msg = str(err.value)
    assert "survey.csv" in msg and "列 XIAN" in msg  # the first garbled column, a category
    assert any(c in msg for c in COUNTY_NAMES)  # its right reading
    assert "encoding: utf-8" in msg
    assert not any(n in msg for n in NAMES)


def test_unique_garbled_values_are_described_not_quoted(tmp_path):
    # a name column the instrument forgot to list as an identifier: each value once, so never quoted
    names = [latin1(NAMES[i % 5] + "之" * (i // 5)) for i in range(40)]
    path = _csv(tmp_path, ["鲤城区"] * 40, names)
    with pytest.raises(InputError) as err:
        read_raw(path)  # read as UTF-8, as declared: the file itself holds the garbled text
    msg = str(err.value)
    assert "列 XM" in msg and "不显示" in msg and "重新导出" in msg
    assert not any(n in msg or latin1(n) in msg or n[0] in msg for n in NAMES)


def test_double_encoded_csv_is_refused_with_reexport_advice(tmp_path):
    county = [latin1(COUNTY_NAMES[i % 4]) for i in range(40)]  # "Ã©Â²Â¤…" once written back as UTF-8
    path = _csv(tmp_path, county, ["x"] * 40)
    with pytest.raises(InputError) as err:
        read_raw(path)
    msg = str(err.value)
    assert "列 XIAN" in msg and "应为" in msg and "UTF-8 重新导出" in msg


def test_text_that_lost_its_bytes_is_refused(tmp_path):
    county = [COUNTY_NAMES[i % 4].encode("gbk").decode("utf-8", errors="replace") for i in range(40)]
    path = _csv(tmp_path, county, ["x"] * 40)
    with pytest.raises(InputError) as err:
        read_raw(path)
    assert "列 XIAN" in str(err.value) and "gb18030" in str(err.value)


def test_clean_csv_passes(tmp_path):
    path = _csv(tmp_path, [COUNTY_NAMES[i % 4] for i in range(40)], ["阿卜杜·热合曼"] * 40)
    assert read_raw(path).data.shape == (40, 4)


def _garble_sav(paths):
    """The demo .sav after a round trip through a program that read its UTF-8 text as Latin-1."""
    data, meta = read_sav(paths.survey)
    meta.column_labels = [latin1(v) if v else v for v in meta.column_labels]
    meta.value_labels = {k: {c: latin1(t) for c, t in v.items()} for k, v in meta.value_labels.items()}
    resave(paths, data, meta)


def test_sav_with_latin1_labels_is_refused_by_ingest_and_check(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    _garble_sav(paths)
    with pytest.raises(InputError) as err:
        read_raw(paths.survey)
    msg = str(err.value)
    assert "survey.sav" in msg and "乱码" in msg and "应为“" in msg and "encoding: utf-8" in msg
    problems = check_delivery(paths)
    enc = [p for p in problems if p.topic == "encoding"]
    assert enc and enc[0].severity == "stop" and "encoding: utf-8" in enc[0].message


def test_demo_delivery_has_no_encoding_alarm(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    assert not [p for p in check_delivery(paths) if p.topic == "encoding"]
