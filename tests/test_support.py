"The README's support matrix is what a fresh run of every family's tiny examples gives (see nbs/00f_support.ipynb)."
from conftest import ROOT
from ultra_nb.support import support_matrix, markdown, readme_block

def test_readme_support_matrix_is_current():
    rows = support_matrix()
    assert not [r for r in rows if r['status'].startswith('FAILS')], rows
    assert sum(r['status'] == 'supported' for r in rows) >= 13 and len({r['source'] for r in rows}) == 5
    assert readme_block(ROOT / 'README.md') == markdown(rows), \
        "README support matrix is stale: run `python -m ultra_nb.support --write-readme`"
