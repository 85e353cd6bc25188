"""Specification of reslib/papers.py: the papers' numbers live in one place, and the course uses it.

Everything here reads files (modules, notebooks, Markdown); no kernel runs, no model is built.
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest

from reslib import papers
from reslib.papers import PaperFinding, PaperNumber

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = LESSONS + sorted((ROOT / "solutions").glob("*.ipynb")) + sorted(
    (ROOT / "exercises").glob("*.ipynb"))
EXPERIMENTS = sorted((ROOT / "reslib" / "experiments").glob("[a-z]*.py"))
KEY = re.compile(r"^[a-z]+\d{4}[a-z]?\.[\w.-]+$")

# Numbers that stand in a sentence citing a paper but are the course's own, with the reason.
NOT_PAPER_NUMBERS = {
    "4.09 G": "torchvision's documented MACs of its ResNet-50 v1.5, not a paper's number",
    "2.5%": "the share of the paper's 64,000 steps that the stored run took (the course's sum)",
}


def markdown_cells(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def compare_cells(path):
    """The code cells between a lesson's '## Compare with the paper' and its next Markdown cell."""
    cells = nbformat.read(path, as_version=4).cells
    start = next(i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and "## Compare with the paper" in c.source)
    code = []
    for cell in cells[start + 1:]:
        if cell.cell_type == "markdown":
            break
        code.append(cell.source)
    return "\n".join(code)


def test_quote_and_cite_give_a_table_entry_and_its_source():
    assert papers.quote("he2016a.table6.resnet-56.error") == "6.97%"
    assert papers.cite("he2016a.table6.resnet-56.error") == "He et al. 2016a, Table 6"
    assert papers.quote_cited("he2016b.table3.resnet-1001-preact.error") == (
        "4.92% (He et al. 2016b, Table 3)")
    assert papers.quote("huang2016.resnet-110.expected_blocks") == "about 40"
    assert papers.value("he2016a.table6.resnet-1202.error") == 7.93


def test_unknown_key_raises_a_value_error_naming_it_and_its_neighbours():
    with pytest.raises(ValueError, match="'he2016a.table6.resnet-57.error'.*he2016a.table6"):
        papers.number("he2016a.table6.resnet-57.error")
    with pytest.raises(ValueError, match="qualitative finding"):
        papers.value("he2016a.fig6.plain")


def test_a_record_must_name_a_listed_paper_and_a_table_figure_or_section():
    with pytest.raises(ValueError, match="`where`.*'somewhere'"):
        PaperNumber(1.0, "%", "He et al. 2016a", "somewhere", "x")
    with pytest.raises(ValueError, match="`paper`.*'He 2016'"):
        PaperFinding("x", "He 2016", "Table 1")
    assert all(KEY.match(key) for key in papers.NUMBERS), "keys read paper.table.quantity"


def test_each_number_of_a_paper_is_stored_once():
    seen = {}
    for key, record in papers.NUMBERS.items():
        if isinstance(record, PaperNumber):
            assert (record.paper, record.what) not in seen, (key, seen.get((record.paper,
                                                                           record.what)))
            seen[(record.paper, record.what)] = key


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_paper_constants_are_views_of_reslib_papers(path):
    module = ast.parse(path.read_text())
    for node in module.body:
        names = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if not any(name.startswith("PAPER") for name in names):
            continue
        source = ast.get_source_segment(path.read_text(), node.value)
        floats = [c.value for c in ast.walk(node.value)
                  if isinstance(c, ast.Constant) and isinstance(c.value, float)]
        assert "papers." in source and floats == [], f"{path.name}: {names} must read reslib.papers"


def test_experiment_paper_constants_hold_the_papers_values():
    from reslib.experiments import bottleneck_cost, degradation, densenet_vs_resnet, preact

    assert degradation.PAPER_TEST_ERROR["resnet-56"] == 6.97
    assert preact.PAPER_TEST_ERROR["resnet-1001-preact"] == 4.92
    assert bottleneck_cost.PAPER_RESNET34_TOP1 == {"A": 25.03, "B": 24.52, "C": 24.19}
    assert densenet_vs_resnet.PAPER["resnet-110"]["test_error_percent"] == 6.41


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_compare_table_takes_its_paper_column_from_reslib_papers(path):
    source = compare_cells(path)
    tree = ast.parse(source)
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
               and isinstance(n.value, str)]
    keys = [s for s in strings if KEY.match(s)]
    assert "from reslib import papers" in source and keys, f"{path.name}: no reslib.papers key"
    unknown = [k for k in keys if k not in papers.NUMBERS]
    assert unknown == [], f"{path.name} quotes keys reslib.papers lacks"
    values = papers.numeric_values()
    written = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
               and isinstance(n.value, float) and not n.value.is_integer()]
    written += [float(x) for s in strings for x in re.findall(r"(?<![\w.])\d+\.\d+(?=%|M|G|\b)", s)]
    assert [v for v in written if v in values] == [], (
        f"{path.name} writes a paper's number by hand; read it from reslib.papers")


def prose_numbers(text):
    """``(number as written, its sentence)`` for decimals, percentages and millions/billions in
    sentences that cite a paper (et al., Table N, Fig. N, the paper), outside code, links and
    display math; section, table, figure and equation numbers and durations are not quotes."""
    text = re.sub(r"\$\$.*?\$\$|`[^`]*`|\]\([^)]*\)", " ", text, flags=re.S)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n(?=\s*[-*] )", text)]
    for sentence in (s for p in paragraphs for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(*])|;\s", p)):
        if not re.search(r"et al\.|Table \d|Fig\. \d|the paper", sentence):
            continue
        for match in re.finditer(r"(?<![\w.\\^{-])(\d+\.\d+|\d+)(\s?%|M\b|\s?G\b)?", sentence):
            before = sentence[:match.start()].rstrip()
            after = sentence[match.end():match.end() + 12]
            if re.search(r"(section|eq\.|Table|Fig\.|Theorem)$", before) or re.match(
                    r"\s*(to [\d.]+ )?(minutes|hours)", after):
                continue
            if "." in match.group(1) or match.group(2):
                yield match.group(0), " ".join(sentence.split())


def docstrings_and_comments(path):
    source = path.read_text()
    nodes = (n for n in ast.walk(ast.parse(source))
             if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)))
    comments = [line.split("#", 1)[1] for line in source.splitlines()
                if line.strip().startswith("#")]
    return "\n\n".join([ast.get_docstring(n) or "" for n in nodes] + ["\n".join(comments)])


def test_paper_numbers_in_the_prose_are_entries_of_reslib_papers():
    documents = [(p.relative_to(ROOT), cell) for p in NOTEBOOKS for cell in markdown_cells(p)]
    documents += [(name, (ROOT / name).read_text()) for name in ("README.md", "INSTRUCTORS.md")]
    documents += [(p.relative_to(ROOT), docstrings_and_comments(p)) for p in EXPERIMENTS]
    values = papers.numeric_values()
    strays = [
        f"{where}: {number!r} in: {sentence[:120]}"
        for where, text in documents for number, sentence in prose_numbers(text)
        if float(re.match(r"[\d.]+", number).group()) not in values
        and number not in NOT_PAPER_NUMBERS
    ]
    assert strays == [], "numbers cited from papers that reslib.papers lacks:\n" + "\n".join(strays)


def test_prose_number_finder_catches_a_wrong_paper_number():
    text = "He et\nal. 2016a (section 4.2, Table 6): ResNet-56 reaches 6.79%, in 2 hours."
    found = dict(prose_numbers(text))
    assert list(found) == ["6.79%"] and 6.79 not in papers.numeric_values()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_markdown_has_no_control_characters(path):
    for text in markdown_cells(path):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), (
            f"{path.name}: a control character (an unescaped backslash sequence?) in: {text[:80]}")
