"Every figure has a producer in bench/figures.py, every producer's script exists, every figure a page shows exists and is listed (fast, no model)."
import importlib.util, json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('figures', ROOT / 'bench/figures.py')
F = importlib.util.module_from_spec(spec); spec.loader.exec_module(F)
IMAGES = {p.name for p in (ROOT / 'nbs/images').glob('*.png')}

def page_refs() -> dict:
    "Image name -> pages referring to it, read here independently of bench/figures.py: README, chapters' cells, bench/results/*.md."
    out = {}
    def add(text, where):
        for m in re.findall(r'(?:\.\./\.\./nbs/|nbs/|\]\()images/([\w.-]+\.png)', text): out.setdefault(m, set()).add(where)
    add((ROOT / 'README.md').read_text(), 'README.md')
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:  # markdown and code cells alike
            add(''.join(c['source']), nb.name)
    for md in sorted((ROOT / 'bench/results').glob('*.md')):
        if md.name != 'figures.md': add(md.read_text(), md.name)
    return out

def test_every_image_has_one_producer():
    listed = [im for p in F.PRODUCERS for im in p.images]
    assert len(listed) == len(set(listed)), f'an image listed under two producers: {sorted(i for i in listed if listed.count(i) > 1)}'
    assert not IMAGES - set(listed), f'images under nbs/images/ with no producer in bench/figures.py: {sorted(IMAGES - set(listed))}'
    assert not set(listed) - IMAGES, f'bench/figures.py lists images that are not in nbs/images/: {sorted(set(listed) - IMAGES)}'

def test_every_producer_script_exists_and_takes_its_flags():
    for p in F.PRODUCERS:
        script = ROOT / p.script
        assert script.is_file(), f'{p.name}: {p.script} does not exist'
        src = script.read_text()
        for flag in re.findall(r'\s(--[\w-]+)', ' ' + p.cmd):
            assert f"'{flag}'" in src, f'{p.name}: {p.script} has no option {flag}'
        assert p.cost and p.inputs, f'{p.name}: its cost and inputs are not written'

def test_every_figure_shown_exists_and_is_listed():
    refs = page_refs()
    assert {'api_summary.png', 'deit_token_maps.png', 'objects_masks.png', 'docs_api.png'} <= set(refs), sorted(refs)  # the scan finds them
    missing = {im: sorted(w) for im, w in refs.items() if im not in IMAGES}
    assert not missing, f'pages show images that do not exist: {missing}'
    unlisted = {im: sorted(w) for im, w in refs.items() if im not in F.BY_IMAGE}
    assert not unlisted, f'pages show images bench/figures.py does not list: {unlisted}'

def test_the_scripts_own_scan_agrees():
    "figures.md's 'shown in' column comes from F.shown_in(): it must find what the independent scan finds."
    ours = {im: set(w) for im, w in F.shown_in().items()}
    theirs = page_refs()
    assert set(ours) == set(theirs), (sorted(set(ours) ^ set(theirs)))
    assert F.references('![x](images/a.png) `nbs/images/b.png` ../../nbs/images/c.png') == {'a.png', 'b.png', 'c.png'}

def test_figures_md_lists_every_image():
    md = ROOT / 'bench/results/figures.md'
    if not md.exists(): pytest.skip('bench/results/figures.md not written yet: run python bench/figures.py --list, then a producer')
    text = md.read_text()
    assert not [im for im in IMAGES if f'`{im}`' not in text], 'figures.md is behind nbs/images/: rerun python bench/figures.py'

def test_unknown_name_is_refused_in_one_sentence():
    r = subprocess.run([sys.executable, str(ROOT / 'bench/figures.py'), '--only', 'no_such.png', '--dry-run'], capture_output=True, text=True)
    assert r.returncode == 1 and 'no_such.png is not a producer or an image here' in r.stderr, r.stderr
    r = subprocess.run([sys.executable, str(ROOT / 'bench/figures.py'), '--cheap', '--dry-run', '--only', 'api_summary.png', 'llm'],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith('api-summary:') and 'llm:' not in r.stdout, r.stdout  # --cheap drops llm
