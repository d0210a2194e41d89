"""What every published output shares, for the wave report (pipeline.reporting) and the mid-term and
final assessments (pipeline.assessment): labels and suppression-aware formatting (`labels`), the bundled
CJK font (`fonts`), figure conventions and saving (`figures`), document parts (`document`), HTML pieces
(`html`) and reproducible workbooks (`workbook`)."""
