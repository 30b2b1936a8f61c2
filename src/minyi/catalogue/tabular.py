"""Tables in and out: UTF-8 CSV and Excel (.xlsx), with English or Chinese column headers.

Administrators keep the organisation and the three lists in spreadsheets, usually with
Chinese headers; scripts prefer English ones. Every column therefore has one English name
(what the code and the exports use) and the Chinese headers it is known by. A header is
matched after NFKC folding (full-width letters and brackets become ASCII), dropping a
trailing `*` (a "required" marker) and a trailing bracketed unit such as `（天）`, and, for
English, ignoring case, spaces and hyphens. Columns named 备注/序号/remark/note are
accepted and ignored; any other unknown header is an error, so that a misspelt column can
never be dropped silently.

Column sets (English name / Chinese header; `*` required):

- areas (区域): code*/编码, name*/名称, level*/层级 (city/district/street/community/grid or
  市/区县/街道/社区/网格 ...), parent_code/上级编码, aliases/别名, population/人口
- units (单位): code*/编码, name*/名称, kind*/类型, area_code*/区域编码, parent_code/上级单位,
  service/服务类型, phone/电话, jurisdiction_codes/管辖区域, sections/科室 (`code:name`)
- items (目录清单): item_path*/事项路径 (`04/0402/040201`), name/名称, definition/定义,
  keywords/关键词
- responsibility (职责清单): item_path*/事项路径, area_code*/区域编码, lead_unit_code/牵头单位,
  lead_section_code/牵头科室, co_unit_codes/协办单位, legal_basis/法律依据, removed/删除
- implementation (实施清单): item_path*/事项路径, unit_code/单位编码 (empty: the item's
  default for any unit), process/办理流程, response_level/响应级别, contact_hours/联系时限,
  completion_days/办结时限, standard_kind/标准类型, min_days/最短天数, max_days/最长天数,
  closing_requirements/办结要求, removed/删除
- district_choices (区县取值): item_path*/事项路径, unit_code/单位编码,
  district_code*/区县编码, completion_days*/办结时限

Lists inside a cell (aliases, codes, sections, requirements) are separated by `、` `;` `|`
or a comma. A CSV is read as UTF-8 (a BOM is tolerated) and written with a BOM, so Excel
opens the Chinese correctly. An .xlsx holds one table on its first sheet (or on a sheet
named after the table), or, for the whole set, one sheet per table.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypedDict

from minyi.catalogue.domain import (
    CLOSING_REQUIREMENT_ZH,
    Process,
    ResponseLevel,
    StandardKind,
)
from minyi.org.domain import AREA_LABEL_ZH, UNIT_KIND_LABEL_ZH, AreaLevel

Headers = Literal["en", "zh"]
Format = Literal["csv", "xlsx"]

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


class Problem(TypedDict):
    """One bad spot of an import: where a person finds it in the file, and why."""

    file: str
    row: int | None  # as the spreadsheet shows it: the header is row 1; None: the whole file
    column: str | None
    reason: str
    reason_en: str


def problem(file: str, row: int | None, column: str | None, reason: str, reason_en: str) -> Problem:
    return Problem(file=file, row=row, column=column, reason=reason, reason_en=reason_en)


# --- value vocabularies ------------------------------------------------------------------


def fold(text: str) -> str:
    """The form values and headers are compared in: NFKC, trimmed, lower case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _vocabulary(spellings: Mapping[str, Iterable[str]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for value, others in spellings.items():
        for spelling in (value, *others):
            table[fold(spelling)] = str(value)
    return table


def _label_parts(labels: Mapping[Any, str]) -> dict[str, list[str]]:
    # "街道/乡镇" is accepted whole and as "街道" or "乡镇".
    return {str(k): [label, *label.split("/")] for k, label in labels.items()}


PROCESS_VALUES = _vocabulary(
    {
        Process.SIMPLE: ["简易", "简易流程"],
        Process.STANDARD: ["标准", "标准流程"],
        Process.SPECIAL: ["特殊", "特殊流程"],
    }
)
RESPONSE_LEVEL_VALUES = _vocabulary(
    {
        ResponseLevel.H2: ["2小时", "2个小时"],
        ResponseLevel.H24: ["24小时", "24个小时"],
        ResponseLevel.D7: ["7天", "7日", "7个工作日", "7工作日"],
        ResponseLevel.D15: ["15天", "15日", "15个工作日", "15工作日"],
    }
)
STANDARD_KIND_VALUES = _vocabulary(
    {
        StandardKind.MANDATORY: ["强制性", "强制"],
        StandardKind.RECOMMENDED: ["推荐性", "推荐"],
        StandardKind.INDIVIDUAL: ["个性化", "个性"],
    }
)
CLOSING_VALUES = _vocabulary({str(k): [v] for k, v in CLOSING_REQUIREMENT_ZH.items()})
AREA_LEVEL_VALUES = _vocabulary(
    {**_label_parts(AREA_LABEL_ZH), AreaLevel.DISTRICT: ["区县", "区", "县"]}
)
UNIT_KIND_VALUES = _vocabulary(_label_parts(UNIT_KIND_LABEL_ZH))
SERVICE_VALUES = _vocabulary(
    {
        "water": ["供水", "水务"],
        "gas": ["燃气", "供气"],
        "power": ["供电", "电力"],
        "telecom": ["通信", "电信"],
        "heating": ["供热", "供暖"],
    }
)
_TRUE = {fold(s) for s in ("1", "true", "yes", "y", "x", "是", "删除", "√", "✓")}
_FALSE = {fold(s) for s in ("", "0", "false", "no", "n", "否")}

ZH_LABELS: dict[str, Mapping[str, str]] = {
    "process": {"simple": "简易", "standard": "标准", "special": "特殊"},
    "response_level": {"2h": "2小时", "24h": "24小时", "7d": "7天", "15d": "15天"},
    "standard_kind": {"mandatory": "强制性", "recommended": "推荐性", "individual": "个性化"},
    "closing_requirements": {str(k): v for k, v in CLOSING_REQUIREMENT_ZH.items()},
    "level": {str(k): v for k, v in AREA_LABEL_ZH.items()},
    "kind": {str(k): v for k, v in UNIT_KIND_LABEL_ZH.items()},
    "removed": {"true": "是"},
}


def parse_flag(text: str) -> bool | None:
    """是/否, true/false, 1/0 (an empty cell is "no"); None when it is none of these."""
    key = fold(text)
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return None


_SPLIT = re.compile(r"[、;；|｜,，\n]")


def split_list(text: str) -> list[str]:
    return [part.strip() for part in _SPLIT.split(text) if part.strip()]


def join_list(values: Iterable[str]) -> str:
    return "|".join(values)


# --- table specs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    aliases: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class TableSpec:
    kind: str
    zh: str  # the sheet name in Chinese exports
    columns: tuple[Column, ...]

    def header_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for col in self.columns:
            for header in (col.name, col.zh, *col.aliases):
                index[normalise_header(header)] = col.name
        return index

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, zh: str, *aliases: str, required: bool = False) -> Column:
    return Column(name, zh, aliases, required)


_REMOVED = _c("removed", "删除", "是否删除")
_ITEM = _c("item_path", "事项路径", "事项编码", "item", required=True)

SPECS: dict[str, TableSpec] = {
    s.kind: s
    for s in (
        TableSpec(
            "areas",
            "区域",
            (
                _c("code", "编码", "区域编码", required=True),
                _c("name", "名称", "区域名称", required=True),
                _c("level", "层级", "级别", required=True),
                _c("parent_code", "上级编码", "上级区域", "上级区域编码"),
                _c("aliases", "别名"),
                _c("population", "人口", "常住人口"),
            ),
        ),
        TableSpec(
            "units",
            "单位",
            (
                _c("code", "编码", "单位编码", required=True),
                _c("name", "名称", "单位名称", required=True),
                _c("kind", "类型", "单位类型", required=True),
                _c("area_code", "区域编码", "所属区域", required=True),
                _c("parent_code", "上级单位", "上级编码", "上级单位编码"),
                _c("service", "服务类型", "行业"),
                _c("phone", "电话", "联系电话"),
                _c("jurisdiction_codes", "管辖区域", "管辖区域编码"),
                _c("sections", "科室", "内设科室"),
            ),
        ),
        TableSpec(
            "items",
            "目录清单",
            (
                _c("item_path", "事项路径", required=True),
                _c("name", "名称", "事项名称"),
                _c("definition", "定义", "说明", "事项说明"),
                _c("keywords", "关键词"),
            ),
        ),
        TableSpec(
            "responsibility",
            "职责清单",
            (
                _ITEM,
                _c("area_code", "区域编码", "区域", required=True),
                _c("lead_unit_code", "牵头单位", "牵头单位编码", "主办单位"),
                _c("lead_section_code", "牵头科室", "科室编码"),
                _c("co_unit_codes", "协办单位", "协办单位编码"),
                _c("legal_basis", "法律依据", "依据"),
                _REMOVED,
            ),
        ),
        TableSpec(
            "implementation",
            "实施清单",
            (
                _ITEM,
                _c("unit_code", "单位编码", "承办单位", "单位"),
                _c("process", "办理流程", "流程"),
                _c("response_level", "响应级别"),
                _c("contact_hours", "联系时限"),
                _c("completion_days", "办结时限"),
                _c("standard_kind", "标准类型"),
                _c("min_days", "最短天数", "推荐最短天数", "recommended_min_days"),
                _c("max_days", "最长天数", "推荐最长天数", "recommended_max_days"),
                _c("closing_requirements", "办结要求"),
                _REMOVED,
            ),
        ),
        TableSpec(
            "district_choices",
            "区县取值",
            (
                _ITEM,
                _c("unit_code", "单位编码", "承办单位", "单位"),
                _c("district_code", "区县编码", "区县", required=True),
                _c("completion_days", "办结时限", "取值", "取值天数", required=True),
            ),
        ),
    )
}
# Written to Excel as numbers (so sums and filters work); everything else stays text.
NUMERIC_COLUMNS = frozenset(
    {"population", "contact_hours", "completion_days", "min_days", "max_days"}
)
IGNORED_HEADERS = frozenset({"备注", "序号", "remark", "remarks", "note", "notes", "no", "#"})
IGNORED_SHEETS = frozenset({"说明", "readme", "notes", "备注"})


def normalise_header(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).replace("\ufeff", "").strip()
    folded = folded.rstrip("*").strip()
    folded = re.sub(r"\([^()]*\)$", "", folded).strip()
    return re.sub(r"[\s\-]+", "_", folded.lower())


def spec_for_sheet(title: str) -> TableSpec | None:
    key = normalise_header(title)
    for spec in SPECS.values():
        if key in (spec.kind, normalise_header(spec.zh), spec.kind.replace("_", "")):
            return spec
    return None


# --- tables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    number: int
    values: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass
class Table:
    spec: TableSpec
    file: str
    columns: tuple[str, ...] = ()
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def table_from_records(spec: TableSpec, file: str, records: Iterable[Sequence[Any]]) -> Table:
    """Rows of cells into a `Table` of canonical columns, numbered as the spreadsheet does.

    The header is the first row naming two known columns: a government spreadsheet often
    starts with a title row (“2026年第8批职责清单”) above it, which is skipped.
    """
    table = Table(spec=spec, file=file)
    index = spec.header_index()
    numbered = enumerate(records, start=1)
    ahead = list(itertools.islice(numbered, _HEADER_SEARCH))
    found = next(
        (k for k, (_, rec) in enumerate(ahead) if sum(_is_header(c, index) for c in rec) >= 2),
        None,
    )
    if found is None:
        found = next((k for k, (_, rec) in enumerate(ahead) if any(map(cell_text, rec))), None)
    if found is None:
        table.problems.append(problem(file, None, None, "文件是空的", "The file is empty"))
        return table
    header_row, header = ahead[found]
    positions: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    for pos, raw in enumerate(header):
        label = cell_text(raw)
        if not label or normalise_header(label) in IGNORED_HEADERS:
            continue
        name = index.get(normalise_header(label))
        if name is None:
            accepted = "、".join(f"{c.name}/{c.zh}" for c in spec.columns)
            table.problems.append(
                problem(
                    file,
                    header_row,
                    label,
                    f"无法识别的列“{label}”；可用的列：{accepted}",
                    f"Unknown column {label!r}; accepted: {', '.join(spec.names)}",
                )
            )
            continue
        if name in seen:
            table.problems.append(
                problem(
                    file,
                    header_row,
                    label,
                    f"列“{label}”与列“{seen[name]}”重复（都是 {name}）",
                    f"Column {label!r} repeats column {seen[name]!r} (both are {name})",
                )
            )
            continue
        seen[name] = label
        positions.append((pos, name))
    for col in spec.columns:
        if col.required and col.name not in seen:
            table.problems.append(
                problem(
                    file,
                    header_row,
                    col.name,
                    f"缺少必填列“{col.zh}”（{col.name}）",
                    f"The required column {col.name} ({col.zh}) is missing",
                )
            )
    table.columns = tuple(name for _, name in positions)
    for number, record in itertools.chain(ahead[found + 1 :], numbered):
        values = {
            name: cell_text(record[pos]) if pos < len(record) else "" for pos, name in positions
        }
        if any(values.values()):
            table.rows.append(Row(number=number, values=values))
    return table


_HEADER_SEARCH = 10


def _is_header(cell: Any, index: Mapping[str, str]) -> bool:
    return normalise_header(cell_text(cell)) in index


def cell_text(value: Any) -> str:
    """A cell as text: Excel stores 7 as 7.0 and codes typed as numbers as numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def read_table(data: bytes, filename: str, spec: TableSpec) -> Table:
    """One table from a CSV file, or from an .xlsx (the sheet named after it, else the first)."""
    if is_xlsx(filename, data):
        tables = _read_xlsx(data, filename, [spec], one=True)
        return tables[0]
    return read_csv(data, filename, spec)


def read_workbook(data: bytes, filename: str) -> list[Table]:
    """Every table of an .xlsx holding one sheet per table (sheets named as in `SPECS`)."""
    if not is_xlsx(filename, data):
        return [
            Table(
                spec=SPECS["areas"],
                file=filename,
                problems=[
                    problem(
                        filename,
                        None,
                        None,
                        "整套清单只能用 Excel 文件（每张表一个工作表）导入",
                        "The whole set can only be imported from an .xlsx, one sheet per table",
                    )
                ],
            )
        ]
    return _read_xlsx(data, filename, list(SPECS.values()), one=False)


def is_xlsx(filename: str, data: bytes) -> bool:
    # An .xlsx is a zip archive; trust the bytes over a renamed file's extension.
    return data[:2] == b"PK" or filename.lower().endswith(".xlsx")


def read_csv(data: bytes, filename: str, spec: TableSpec) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Table(
            spec=spec,
            file=filename,
            problems=[
                problem(
                    filename,
                    None,
                    None,
                    "文件不是 UTF-8 编码（在 Excel 中请用“另存为 → CSV UTF-8”）",
                    f"The file is not UTF-8 ({exc.reason}); save it as 'CSV UTF-8'",
                )
            ],
        )
    return table_from_records(spec, filename, csv.reader(io.StringIO(text, newline="")))


def _read_xlsx(data: bytes, filename: str, specs: list[TableSpec], *, one: bool) -> list[Table]:
    from openpyxl import load_workbook

    try:
        # openpyxl warns about styles and extensions it does not keep; the values are intact.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        spec = specs[0]
        bad = problem(
            filename,
            None,
            None,
            "无法读取 Excel 文件（需要 .xlsx 格式）",
            f"Cannot read the Excel file ({type(exc).__name__}); an .xlsx is needed",
        )
        return [Table(spec=spec, file=filename, problems=[bad])]
    try:
        sheets = {ws.title: ws for ws in book.worksheets}
        if one:
            spec = specs[0]
            chosen = next(
                (ws for title, ws in sheets.items() if spec_for_sheet(title) == spec),
                book.worksheets[0],
            )
            return [table_from_records(spec, filename, _sheet_rows(chosen))]
        tables: list[Table] = []
        for title, ws in sheets.items():
            found = spec_for_sheet(title)
            label = f"{filename}#{title}"
            if found is None:
                if normalise_header(title) in IGNORED_SHEETS:
                    continue
                names = "、".join(f"{s.zh}/{s.kind}" for s in specs)
                tables.append(
                    Table(
                        spec=specs[0],
                        file=label,
                        problems=[
                            problem(
                                label,
                                None,
                                None,
                                f"无法识别的工作表“{title}”；可用的工作表：{names}",
                                f"Unknown sheet {title!r}; accepted: "
                                + ", ".join(s.kind for s in specs),
                            )
                        ],
                    )
                )
                continue
            tables.append(table_from_records(found, label, _sheet_rows(ws)))
        return tables
    finally:
        book.close()


def _sheet_rows(ws: Any) -> Iterator[Sequence[Any]]:
    for row in ws.iter_rows(values_only=True):
        yield tuple(row)


# --- writing -----------------------------------------------------------------------------


def _header(spec: TableSpec, headers: Headers) -> list[str]:
    return [c.zh if headers == "zh" else c.name for c in spec.columns]


def _display(column: str, value: str, headers: Headers) -> str:
    labels = ZH_LABELS.get(column)
    if headers == "en" or labels is None or not value:
        return value
    if column == "closing_requirements":
        return join_list(labels.get(v, v) for v in value.split("|"))
    return labels.get(value, value)


def write_csv(spec: TableSpec, rows: Iterable[Mapping[str, str]], headers: Headers = "en") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_header(spec, headers))
    for row in rows:
        writer.writerow([_display(c, row.get(c, ""), headers) for c in spec.names])
    return out.getvalue().encode("utf-8-sig")


def write_xlsx(
    tables: Sequence[tuple[TableSpec, Iterable[Mapping[str, str]]]], headers: Headers = "en"
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    for spec, rows in tables:
        ws = book.create_sheet(spec.zh if headers == "zh" else spec.kind)
        ws.append(_header(spec, headers))
        for row in rows:
            cells = []
            for name in spec.names:
                text = _display(name, row.get(name, ""), headers)
                if name in NUMERIC_COLUMNS and text.isdigit():
                    cells.append(WriteOnlyCell(ws, value=int(text)))
                    continue
                cell = WriteOnlyCell(ws, value=text or None)
                if cell.value is not None:
                    # Text stays text: a legal basis starting with "=" must not become a
                    # formula, and a code such as "04" must keep its leading zero.
                    cell.data_type = "s"
                cells.append(cell)
            ws.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
