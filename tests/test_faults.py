"""The cases of `bench/faults.py` (issue 25): none may end in a traceback, a `nan` table or a silent success.

Fast subset, so the suite stays quick: every case that stops before weights load — CLI cases through `ultra_nb.cli.main`
in this process, API cases as they are — and the cases of `bench/bad_inputs.py` (issue 11); then one case end to end with the
installed command on real DeiT-tiny: a batch with a truncated JPEG among good images finishes the good ones, names the bad
one, and the same command again resumes. `python bench/faults.py` runs the whole table (every case through the installed
command) and writes bench/results/faults.md.
"""
import sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
import faults

@pytest.fixture(scope='module')
def material(tmp_path_factory):
    d = tmp_path_factory.mktemp('faults')
    return d, faults.make_files(d)

def _failures(rows): return [f"{r['group']}: {r['case']} -> {r['verdict']} ({r['first_line']})" for r in rows if r['verdict'] != 'pass']

def test_fast_faults_one_sentence_each(material):
    d, f = material
    todo = [c for c in faults.cases(d, f) if not c.slow]
    rows = [faults.run_case(c, inprocess=True) for c in todo]
    assert len(rows) >= 60
    assert not _failures(rows), '\n'.join(_failures(rows))
    refusals = [r for r in rows if r['expect'] == 'error' and r['via'].startswith('cli')]
    assert max(r['seconds'] for r in refusals) < 5, sorted((r['seconds'], r['case']) for r in refusals)[-3:]  # checks before work, in seconds

def test_issue_11_cases_still_refused(tmp_path, monkeypatch):
    monkeypatch.setenv('ULTRA_NB_WEIGHTS', str(tmp_path)); monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    rows = [faults.run_case(c) for c in faults.bad_input_cases(tmp_path)]
    assert len(rows) >= 21 and not _failures(rows), '\n'.join(_failures(rows))

def test_batch_with_a_truncated_jpeg_finishes_names_and_resumes(material):
    d, f = material
    if not f.get('good'): pytest.skip('../shared (real weights and images) not found')
    batch = [c for c in faults.cases(d, f) if c.group == 'batch' and c.via == 'cli'][:2]  # the batch run, then the same command again
    rows = [faults.run_case(c) for c in batch]
    assert not _failures(rows), '\n'.join(_failures(rows))
