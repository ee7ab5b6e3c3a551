"""`.ci/docs` (the documentation site, rendered without Quarto and checked) on copies of the tree: it passes on the tree as
it is and fails, naming the problem, on a broken image path, on a notebook missing from the sidebar, on a sidebar that
holds more than one link per chapter (a heading, a ¶), and — with `--strict-anchors` — on a link to a missing anchor."""
import json, os, re, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT

KEEP = ['settings.ini', '_quarto.yml', 'nbs', 'ultra_nb', '.ci']

@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    "Processed notebooks shared by the runs below: each run reprocesses only the notebooks it changed."
    return tmp_path_factory.mktemp('docs_cache')

def copy_tree(dst):
    "What `.ci/docs` reads, copied: the real tree is never touched."
    for k in KEEP:
        src = ROOT / k
        if src.is_dir(): shutil.copytree(src, dst / k, ignore=shutil.ignore_patterns('_proc', '__pycache__', '.ipynb_checkpoints'))
        elif src.exists(): shutil.copy2(src, dst / k)
    return dst

def docs(tree, cache, *args):
    "Run `.ci/docs` with this interpreter's `python` first on PATH (it calls a bare `python`), as an activated environment would."
    env = {**os.environ, 'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    r = subprocess.run(['bash', str(tree / '.ci/docs'), '--cache', str(cache), *args], capture_output=True, text=True, timeout=600, env=env)
    return r.returncode, r.stdout + r.stderr

def test_passes_on_the_tree(tmp_path, cache):
    "The tree as it is passes; `--out` keeps the same site for reading offline and says where to open it."
    code, out = docs(copy_tree(tmp_path), cache, '--out', str(tmp_path / 'site'))
    assert code == 0, out
    assert f"open {tmp_path / 'site/index.html'} in a browser" in out and (tmp_path / 'site/index.html').exists(), out
    n = len([p for p in (ROOT / 'nbs').rglob('*.ipynb') if not any(x.startswith(('_', '.')) for x in p.relative_to(ROOT / 'nbs').parts)])
    assert f"{n} notebooks processed" in out and f"rendered to {n} pages" in out, out
    assert re.search(r'checked [1-9]\d* images, [1-9]\d* internal links .*, [1-9]\d* show_doc blocks, the navigation of '
                     rf'{n} pages', out), out

def test_fails_on_a_broken_image_path(tmp_path, cache):
    tree = copy_tree(tmp_path)
    for nb in sorted((tree / 'nbs').glob('*.ipynb')):  # the first chapter that shows a figure from a file
        d = json.loads(nb.read_text())
        m = next((m for c in d['cells'] if c['cell_type'] == 'markdown'
                  for m in re.finditer(r'!\[[^\]]*\]\(([^)\s]+\.(?:png|jpg|svg))\)', ''.join(c['source']))), None)
        if m: break
    else: pytest.fail('no chapter shows a figure from a file')
    nb.write_text(nb.read_text().replace(f']({m[1]})', '](images/no_such_figure.png)'))
    code, out = docs(tree, cache)
    assert code == 1 and 'image images/no_such_figure.png does not exist' in out, out

def test_fails_on_a_missing_sidebar_entry(tmp_path, cache):
    tree = copy_tree(tmp_path)
    side = tree / 'nbs/sidebar.yml'
    gone = re.findall(r'^\s*-\s*(\S+\.ipynb)\s*$', side.read_text(), re.M)[-1]
    side.write_text(re.sub(rf'^\s*-\s*{re.escape(gone)}\s*\n', '', side.read_text(), flags=re.M))
    code, out = docs(tree, cache)
    assert code == 1 and f"nbs/{gone} is not in nbs/sidebar.yml" in out, out

def test_strict_anchors_fail_on_a_missing_anchor(tmp_path, cache):
    "A link that reaches its page but not its anchor: a warning by default, a problem with `--strict-anchors`."
    tree = copy_tree(tmp_path)
    nb = tree / 'nbs/index.ipynb'
    d = json.loads(nb.read_text())
    md = [c for c in d['cells'] if c['cell_type'] == 'markdown'][-1]  # not the first: nbdev makes that one the title
    md['source'] = ''.join(md['source']) + '\n\nSee [the capture](00_hooks.ipynb#no-such-anchor).'
    nb.write_text(json.dumps(d))
    code, out = docs(tree, cache, '--strict-anchors')
    assert code == 1 and '  - index.html links to hooks.html#no-such-anchor, an anchor it does not have' in out, out

def docsite():
    import importlib.util
    spec = importlib.util.spec_from_file_location('docsite', ROOT / '.ci/docsite.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

def test_what_quarto_would_do():
    "The pieces of Quarto's behaviour the renderer stands in for: heading ids, link attributes, notebook links, cell options."
    d = docsite()
    assert [d.pandoc_id(t) for t in ['ultra_segment', 'Maps.load', 'Images in', '2. The cut (ζ)']] == \
           ['ultra_segment', 'maps.load', 'images-in', 'the-cut-ζ']
    pages = {'02_cluster.ipynb': 'cluster.html'}
    assert d.md_fix('[source](https://x/y.py#L3){target="_blank" style="float:right"}', pages) == \
           '<a href="https://x/y.py#L3" target="_blank" style="float:right">source</a>'
    assert d.md_fix('see [the cut](02_cluster.ipynb#cut) and ![f](images/a.png)', pages) == 'see [the cut](cluster.html#cut) and ![f](images/a.png)'
    assert d.quarto_options('#| echo: false\n#| output: asis\nshow_doc(f)') == ({'echo': 'false', 'output': 'asis'}, 'show_doc(f)')
    assert d.quarto_options('x = 1\n#| hide') == ({}, 'x = 1\n#| hide')  # not a leading option: Quarto shows it, and so does the check
    side = {'contents': ['index.ipynb', {'section': 'A', 'contents': ['01_a.ipynb', {'href': 'sub/02_b.ipynb'}]}]}
    assert d.sidebar_entries(side['contents']) == [(None, 'index.ipynb'), ('A', '01_a.ipynb'), ('A', 'sub/02_b.ipynb')]

def test_ci_runs_it():
    "`.ci/run` (set -e) runs the check after the notebooks are known clean and exported, before they are executed."
    run = (ROOT / '.ci/run').read_text()
    assert 'set -euo pipefail' in run
    assert run.index('nbdev_export') < run.index('bash "$(dirname "$0")/docs"') < run.index('nbdev_test --flags slow')
    assert 'nbconvert' in (ROOT / 'settings.ini').read_text()  # the renderer comes with the dev install .ci/install makes

def old_nav(order, pages, titles, here):
    "The sidebar as the template wrote it before: each title's markdown rendered as a block (a `# ` title became an <h1> with its ¶)."
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    def md(t): h = markdown2html_mistune(t).strip(); return h[3:-4] if h.startswith('<p>') and h.endswith('</p>') else h
    return '<nav class="side">' + ''.join(f'<a href="{pages[nm]}">{md(titles[nm])}</a>' for _, nm in order) + '</nav>'

def test_navigation_is_one_link_per_chapter(tmp_path):
    "Every page's sidebar: one link per chapter, in order, each reaching its page; no heading, no ¶ (the old template failed this)."
    d = docsite()
    pages = {'index.ipynb': 'index.html', '02a_methods.ipynb': 'methods.html', '10_api.ipynb': 'api.html'}
    order = [(None, 'index.ipynb'), ('The engine', '02a_methods.ipynb'), ('What users touch', '10_api.ipynb')]
    titles = {'index.ipynb': 'ultra_nb', '02a_methods.ipynb': '# Segmentation methods', '10_api.ipynb': 'The [front](x.html) `door`'}
    def check(nav, names=pages):
        for nm, pg in names.items(): (tmp_path / pg).write_text(f'<!DOCTYPE html><html><body>{nav(order, pages, titles, nm)}<main></main></body></html>')
        return d.check_navs(tmp_path, order, pages, set())
    nav = d.nav_html(order, pages, titles, '10_api.ipynb')
    assert nav == ('<nav class="side"><a href="index.html">ultra_nb</a><div class="sec">The engine</div><a href="methods.html">Segmentation methods</a>'
                   '<div class="sec">What users touch</div><a href="api.html" class="here">The front <code>door</code></a></nav>')
    assert check(d.nav_html) == ([], 3)
    bad, n = check(old_nav)
    assert n == 3 and bad == [
        'the navigation holds a heading <h1> (Segmentation methods): the sidebar must hold only links (the navigation of 3 pages: api.html, index.html, methods.html)',
        'the navigation holds an anchor link ¶ (the navigation of 3 pages: api.html, index.html, methods.html)',
        'the navigation has 5 links, expected one per chapter of nbs/sidebar.yml (3) (the navigation of 3 pages: api.html, index.html, methods.html)',
        'navigation link x.html points at nothing in the site (the navigation of 3 pages: api.html, index.html, methods.html)'], bad
    swapped = lambda o, p, t, here: d.nav_html([o[0], o[2], o[1]], p, t, here)
    assert check(swapped)[0][0].startswith('navigation link 2 (The front door) goes to api.html, where nbs/sidebar.yml has methods.html')
    (tmp_path / 'methods.html').unlink()  # a chapter without its page: every link to it is named
    bad, n = check(d.nav_html, names={k: v for k, v in pages.items() if v != 'methods.html'})
    assert n == 2 and bad == ['navigation link methods.html points at nothing in the site (the navigation of 2 pages: api.html, index.html)'], bad
    assert d.title_heading('# Segmentation methods') and not d.title_heading('Segmentation methods #1')
