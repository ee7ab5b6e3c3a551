#!/usr/bin/env python
"""The documentation site, rendered without Quarto and checked: run by `bash .ci/docs` (and so by `.ci/run`).

1. Process every notebook of `nbs/` with nbdev's own processing (`nbdev.serve_drv.main` with `FilterDefaults`, what
   `nbdev.serve.proc_nbs` runs for each notebook before Quarto renders it): directives applied, export cells hidden,
   `show_doc` blocks added and executed, doc links added.
2. Render each processed notebook to a page with nbconvert's HTML exporter (the Jupyter project's own renderer: the
   same output types as JupyterLab, Pygments highlighting, no binary to install), Quarto's cell options honoured
   (`echo`, `output`, `include`), the page named as Quarto names it (`output-file`), a navigation bar from
   `nbs/sidebar.yml`, the files next to the notebooks (images, styles.css) copied along.
3. Check the site: the Quarto configuration parses; every chapter of the sidebar has a page and every notebook is in
   the sidebar; every page's navigation holds exactly one link per sidebar chapter, in order, each resolving, and no
   heading or anchor ¶; every image and internal link (including anchors and nbdev's doc links) resolves; every public name of
   `ultra_nb/_modidx.py` has its `show_doc` block (its heading and anchor) on its chapter's page; no page shows a raw
   `#|` directive, unrendered Pandoc syntax or a traceback. Exit 1 with the list of what is wrong.

One difference from the Quarto build, said out loud: nbdev's docs processing also executes every cell that mixes
imports with other code (it warns "Found cells containing imports and other code. See FAQ"), out of order and outside
the notebook's folder. Here those cells keep their stored outputs and are listed as warnings; `--as-deploy` executes
them as the GitHub deploy does (slow: minutes) and reports each that fails.

A link that reaches its page but not the anchor it names (a method or private name without its own show_doc) is a
warning; `--strict-anchors` makes it a problem.

Usage: `bash .ci/docs` (check, site in a temporary folder) · `bash .ci/docs --out site/` (keep the site, print where
to open it) · `--cache DIR` reuses processed notebooks whose source, settings and package are unchanged."""
from __future__ import annotations
import argparse, functools, hashlib, html, os, re, shutil, sys, tempfile, time, warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIXED = 'Found cells containing imports and other code'

# --- 1. nbdev's processing -------------------------------------------------------------------------------------------

def _docs_eval(as_deploy:bool):
    "nbdev's own choice of the cells `exec_show_docs` runs; without `as_deploy`, minus the cells nbdev warns about."
    import nbdev.processors as P
    orig = P._do_eval
    if as_deploy: return orig
    def do_eval(cell):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            r = orig(cell)
        return None if r and any(MIXED in str(o.message) for o in w) else r
    return do_eval

def process_one(job):
    "Worker: nbdev's processing of one notebook (`nbdev.serve_drv.main`, as `proc_nbs` calls it). Returns (error or None, CPU s)."
    src, dst, root, as_deploy = job
    os.chdir(root)  # nbdev finds settings.ini from here; the deploy runs from the repository root too
    warnings.simplefilter('ignore')
    import nbdev.processors as P, nbdev.serve_drv
    P._do_eval = _docs_eval(as_deploy)
    t = time.process_time()
    try: nbdev.serve_drv.main((Path(src), Path(dst), P.FilterDefaults))
    except Exception as e:
        cause = f" ({type(e.__cause__).__name__}: {e.__cause__})" if e.__cause__ else ''
        return f"{str(e).splitlines()[0].rstrip(' :')}{cause}", time.process_time() - t
    return None, time.process_time() - t

def mixed_cells(nb_path:Path) -> list[int]:
    "Indexes of the cells nbdev warns about (imports mixed with other code), by nbdev's own rule."
    from execnb.nbio import read_nb
    from nbdev.process import NBProcessor
    import nbdev.processors as P
    nb = read_nb(nb_path)
    NBProcessor(nb=nb, procs=[])  # parses the directives of each cell
    out = []
    for c in nb.cells:
        if c.cell_type != 'code': continue
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            P._do_eval(c)
        if any(MIXED in str(o.message) for o in w): out.append(c.idx_)
    return out

def source_key(root:Path, nb:Path, as_deploy:bool) -> str:
    "What a processed notebook depends on: the notebook, settings.ini, the package's source, nbdev's version, the mode."
    import nbdev
    h = hashlib.sha256(f"{nbdev.__version__} {as_deploy}".encode())
    for p in [nb, root / 'settings.ini', *sorted((root / 'ultra_nb').glob('*.py'))]: h.update(p.read_bytes())
    return h.hexdigest()[:20]

def process(root:Path, nbs:list[Path], proc:Path, cache:Path|None, as_deploy:bool, workers:int, done) -> tuple[dict, dict]:
    "Process `nbs` into `proc`, calling `done(notebook, processed)` as each is ready (the caller renders it meanwhile);\
 ({notebook: error or None}, {notebook: CPU seconds} of those processed now)."
    jobs, errors, cpus = [], {}, {}
    for nb in nbs:
        dst = proc / nb.relative_to(root / 'nbs')
        dst.parent.mkdir(parents=True, exist_ok=True)
        hit = cache / f"{nb.stem}-{source_key(root, nb, as_deploy)}.ipynb" if cache else None
        if hit and hit.exists(): shutil.copy2(hit, dst); errors[nb] = None; done(nb, dst)
        else: jobs.append((nb, dst, hit))
    env = os.environ.get('PYTHONPATH', '')  # the workers import this tree's package, and this file as `docsite`
    os.environ['PYTHONPATH'] = os.pathsep.join([str(root), str(Path(__file__).parent)] + ([env] if env else []))
    import docsite
    with ProcessPoolExecutor(max(1, min(workers, len(jobs) or 1)), mp_context=get_context('spawn')) as ex:
        res = ex.map(docsite.process_one, [(str(nb), str(dst), str(root), as_deploy) for nb, dst, _ in jobs])
        for (nb, dst, hit), (err, cpu) in zip(jobs, res):
            errors[nb], cpus[nb] = err, cpu
            if err is None: done(nb, dst)
            if hit and err is None: hit.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(dst, hit)
    return errors, cpus

# --- 2. rendering ----------------------------------------------------------------------------------------------------

def sidebar_entries(contents) -> list:
    "[(section or None, notebook path relative to nbs)] in sidebar order."
    out = []
    def walk(items, section):
        for it in items or []:
            if isinstance(it, str): out.append((section, it))
            elif isinstance(it, dict):
                if 'contents' in it: walk(it['contents'], it.get('section', section))
                elif 'href' in it or 'file' in it: out.append((section, it.get('href') or it.get('file')))
    walk(contents, None)
    return out

def pandoc_id(text:str) -> str:
    "Pandoc's automatic identifier of a heading (what Quarto gives it; nbdev's doc links point at it)."
    s = re.sub(r'[^\w\s.\-]', '', text.strip(), flags=re.UNICODE).lower()
    s = re.sub(r'\s+', '-', s)
    s = re.sub(r'^[^a-z]+', '', s)
    return s or 'section'

PANDOC_LINK = re.compile(r'\[([^\]]*)\]\(([^)\s]+)\)\{([^}]*)\}')

def md_fix(src:str, pages:dict) -> str:
    "What Quarto does to markdown before rendering it: Pandoc link attributes, links to notebooks become their pages."
    def attrs(m):
        kv = ' '.join(f'{k}="{html.escape(v)}"' for k, v in re.findall(r'(\w[\w-]*)="([^"]*)"', m[3]))
        return f'<a href="{html.escape(m[2])}" {kv}>{m[1]}</a>'
    src = PANDOC_LINK.sub(attrs, src)
    return re.sub(r'\]\(([^)\s#]+)\.ipynb(#[^)\s]*)?\)', lambda m: f"]({pages.get(m[1] + '.ipynb', m[1] + '.html')}{m[2] or ''})", src)

def quarto_options(source:str) -> tuple[dict, str]:
    "The leading `#|` options of a code cell (as Quarto reads them) and the source without them."
    lines, opts = source.splitlines(), {}
    i = 0
    while i < len(lines) and lines[i].startswith('#|'):
        k, _, v = lines[i][2:].strip().partition(':')
        opts[k.strip()] = v.strip().lower()
        i += 1
    return opts, '\n'.join(lines[i:])

HEADINGS = [f'h{i}' for i in range(1, 7)]

@functools.lru_cache(maxsize=None)
def inline_md(text:str, links:bool=True) -> str:
    "A title or description as Quarto shows it: inline markdown only (code, emphasis, and links unless `links` is False);\
 block markup is unwrapped, so a title written as a heading (`# X`) shows its text, never a heading or an anchor ¶."
    from bs4 import BeautifulSoup
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    soup = BeautifulSoup(markdown2html_mistune(text), 'html.parser')
    for a in soup.find_all('a', class_='anchor-link'): a.decompose()
    for b in soup.find_all(['p', *HEADINGS] + ([] if links else ['a'])): b.unwrap()
    return str(soup).strip()

def title_heading(title:str) -> bool:
    "Is a chapter's title itself written as a heading (its first cell began `# # `)? It would render as a heading wherever it is shown."
    return bool(re.match(r'#{1,6}\s', title.strip()))

def prepare(nb, pages:dict) -> tuple[str, str]:
    "Turn a processed notebook into what nbconvert renders as Quarto would; returns (title, description)."
    import yaml
    title = desc = ''
    cells = []
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.startswith('---'):
            fm = yaml.safe_load(c.source.strip().strip('-')) or {}
            title, desc = fm.get('title', ''), fm.get('description', '')
            continue
        if c.cell_type == 'markdown':
            if not c.source.strip() or c.source.startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            c.source = md_fix(c.source, pages)
        if c.cell_type == 'code':
            opts, c.source = quarto_options(c.source)
            if opts.get('include') == 'false': continue
            tags = set(c.metadata.get('tags', []))
            if opts.get('echo') == 'false' or not c.source.strip(): tags.add('remove_input')
            if opts.get('output') == 'false': tags.add('remove_output')
            c.metadata['tags'] = sorted(tags)
            for o in c.get('outputs', []):
                if 'text/markdown' in o.get('data', {}):
                    o['data']['text/markdown'] = md_fix(''.join(o['data']['text/markdown']), pages)
                    o['data'].pop('text/plain', None)
        cells.append(c)
    nb.cells = cells
    return title, desc

CSS = """
:root { --fg:#212529; --muted:#6c757d; --accent:#2780e3; --line:#dee2e6; --code:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.6 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:var(--fg); }
header.top { background:var(--accent); color:#fff; padding:.6rem 1.2rem; font-size:1.15rem; font-weight:600; }
header.top a { color:#fff; text-decoration:none; }
.layout { display:flex; align-items:flex-start; }
nav.side { position:sticky; top:0; width:16rem; flex:none; max-height:100vh; overflow:auto; padding:1rem 1rem 2rem 1.2rem;
           font-size:.9rem; border-right:1px solid var(--line); }
nav.side .sec { margin:1rem 0 .3rem; font-weight:600; color:var(--muted); text-transform:uppercase; font-size:.75rem; letter-spacing:.04em; }
nav.side a { display:block; padding:.15rem .4rem; color:var(--fg); text-decoration:none; border-radius:4px; }
nav.side a code { color:inherit; background:none; padding:0; }
nav.side a:hover { background:#eef4fc; } nav.side a.here { background:var(--accent); color:#fff; }
main { flex:1; min-width:0; max-width:58rem; padding:1.5rem 2.5rem 4rem; }
h1.title { margin:.2rem 0 .3rem; font-size:2.1rem; } p.subtitle { color:var(--muted); font-size:1.1rem; margin-top:0; }
h2 { border-bottom:1px solid var(--line); padding-bottom:.2rem; margin-top:2rem; }
a { color:var(--accent); } a.anchor-link { display:none; }
img { max-width:100%; height:auto; }
pre, code { font-family: SFMono-Regular, Menlo, Consolas, monospace; font-size:.86rem; }
:not(pre) > code { background:var(--code); padding:.05rem .3rem; border-radius:3px; color:#7d12ba; }
pre { background:var(--code); padding:.7rem .9rem; border-radius:6px; overflow:auto; line-height:1.45; }
.code_cell { margin:1rem 0; } .prompt { display:none; }
.output_text pre, .output_stream pre, .output_error pre { background:#fff; border-left:3px solid var(--line); border-radius:0; }
main table { border-collapse:collapse; margin:.8rem 0; font-size:.9rem; }
main th, main td { border:1px solid var(--line); padding:.3rem .6rem; text-align:left; vertical-align:top; }
main th { background:#f1f3f5; }
main hr { border:none; border-top:1px solid var(--line); margin:2rem 0 1rem; }
blockquote { margin:0; padding:.2rem 1rem; color:var(--muted); border-left:4px solid var(--line); }
footer { color:var(--muted); font-size:.8rem; margin-top:3rem; }
"""

MATHJAX = ('<script>window.MathJax={tex:{inlineMath:[["$","$"],["\\\\(","\\\\)"]]}};</script>'
           '<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>')

TEMPLATE = """{%- extends 'basic/index.html.j2' -%}
{% block input %}<div class="inner_cell"><div class="input_area">{{ cell.source | highlight_code(metadata=cell.metadata) }}</div></div>{%- endblock input %}
"""

def renderer(out:Path, pages:dict):
    "(body, bodies): `body(name, processed notebook)` renders one page body into `bodies` {name: (title, desc, soup)},\
 headings with Pandoc's ids, figures written next to the page in `<page>_files/` (as Quarto puts them)."
    import jinja2, nbformat
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter
    from traitlets.config import Config as TConfig
    c = TConfig()
    c.HTMLExporter.update(template_name='basic', exclude_input_prompt=True, exclude_output_prompt=True,
                          preprocessors=['nbconvert.preprocessors.TagRemovePreprocessor', 'nbconvert.preprocessors.ExtractOutputPreprocessor'])
    c.TagRemovePreprocessor.update(enabled=True, remove_input_tags={'remove_input'}, remove_all_outputs_tags={'remove_output'})
    c.ExtractOutputPreprocessor.enabled = True
    c.HTMLExporter.optimistic_validation = True  # validate the notebook once, not after every preprocessor
    # nbconvert's basic template, except that code it highlighted itself is not sanitised again (bleach over every input
    # cell was most of the rendering time)
    ex = HTMLExporter(config=c, template_file='docs.html.j2', extra_loaders=[jinja2.DictLoader({'docs.html.j2': TEMPLATE})])
    bodies = {}
    def body(name:str, nbp:Path):
        page = pages[name]
        nb = nbformat.read(nbp, as_version=4)
        title, desc = prepare(nb, pages)
        files, here = Path(page).stem + '_files', out / Path(page).parent
        shutil.rmtree(here / files, ignore_errors=True)
        html_, res = ex.from_notebook_node(nb, resources=dict(output_files_dir=files, unique_key=Path(page).stem))
        for fn, data in res.get('outputs', {}).items():
            (here / fn).parent.mkdir(parents=True, exist_ok=True); (here / fn).write_bytes(data)
        soup, seen = BeautifulSoup(html_, 'html.parser'), {}
        for h in soup.find_all(re.compile('^h[1-6]$')):
            for a in h.find_all('a', class_='anchor-link'): a.decompose()
            i = pandoc_id(h.get_text())
            n = seen.get(i, 0); seen[i] = n + 1
            h['id'] = i if n == 0 else f"{i}-{n}"
        bodies[name] = (title, desc, soup)
    return body, bodies

def nav_html(order:list, pages:dict, titles:dict, here:str) -> str:
    "The sidebar of page `here`: one link per chapter of `order` [(section or None, notebook)], in order, under its section's\
 plain label; a link's text is its chapter's title as inline text (no heading, no anchor ¶, no link inside the link)."
    up = '../' * here.count('/')  # a notebook in a subfolder of nbs/ gets its page in the same subfolder
    nav, last = [], None
    for sec, nm in order:
        if sec != last and sec: nav.append(f'<div class="sec">{html.escape(sec)}</div>')
        last = sec
        cls = ' class="here"' if nm == here else ''
        nav.append(f'<a href="{up}{pages.get(nm, "#")}"{cls}>{inline_md(titles.get(nm, nm), links=False)}</a>')
    return f'<nav class="side">{"".join(nav)}</nav>'

def write_pages(out:Path, order:list, pages:dict, bodies:dict, site_title:str) -> dict:
    "Each rendered body as a whole page with the sidebar's navigation; {page path: parsed body}."
    from pygments.formatters import HtmlFormatter
    (out / 'site.css').write_text(CSS + HtmlFormatter(style='default').get_style_defs('.highlight'))
    extra_css = (out / 'styles.css').exists()
    titles = {name: title or Path(name).stem for name, (title, _, _) in bodies.items()}
    for name, (title, desc, soup) in bodies.items():
        up = '../' * name.count('/')  # a notebook in a subfolder of nbs/ gets its page in the same subfolder
        nav = nav_html(order, pages, titles, name)
        head = f'<h1 class="title">{inline_md(title)}</h1>' + (f'<p class="subtitle">{inline_md(desc)}</p>' if desc else '')
        css = f'<link rel="stylesheet" href="{up}site.css">' + (f'<link rel="stylesheet" href="{up}styles.css">' if extra_css else '')
        (out / pages[name]).parent.mkdir(parents=True, exist_ok=True)
        (out / pages[name]).write_text(
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title or name)} – {html.escape(site_title)}</title>{css}{MATHJAX}</head>'
            f'<body><header class="top"><a href="{up}index.html">{html.escape(site_title)}</a></header><div class="layout">'
            f'{nav}<main>{head}{soup}'
            f'<footer>Rendered from nbs/{html.escape(name)} by .ci/docs (nbdev processing, nbconvert).</footer></main></div></body></html>\n')
    return {out / pages[name]: soup for name, (_, _, soup) in bodies.items()}

# --- 3. checks -------------------------------------------------------------------------------------------------------

def check_config(root:Path) -> list[str]:
    "The Quarto configuration parses, and the metadata files it names exist."
    import yaml
    bad = []
    for p in [root / '_quarto.yml', root / 'nbs/_quarto.yml', root / 'nbs/nbdev.yml', root / 'nbs/sidebar.yml']:
        if not p.exists(): continue  # Quarto renders nbs/ (copied to _proc/): only nbs/_quarto.yml's metadata files matter
        try: d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e: bad.append(f"{p.relative_to(root)}: not valid YAML ({str(e).splitlines()[0]})"); continue
        for m in d.get('metadata-files', []) if isinstance(d, dict) and p.parent.name == 'nbs' else []:
            if not (p.parent / m).exists(): bad.append(f"{p.relative_to(root)}: metadata file {m} does not exist")
    return bad

def site_path(out:Path, page:Path, ref:str, base:str) -> tuple[Path|None, str]:
    "Where a link or image of `page` points inside the site (None: outside it), and its fragment."
    ref, _, frag = html.unescape(ref).partition('#')
    if base and ref.startswith(base): ref = ref[len(base):].lstrip('/') or 'index.html'
    elif re.match(r'^[a-z][a-z0-9+.-]*:', ref, re.I) or ref.startswith('//'): return None, ''
    if not ref: return page, frag
    return (page.parent / ref).resolve(), frag

def module_all(path:Path) -> set:
    "The names a generated module exports (its `__all__`, as nbdev_export writes it)."
    import ast
    if not path.exists(): return set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()

def signature_after(h) -> bool:
    "Does a code block (show_doc's signature) follow heading `h` before the next heading?"
    for sib in h.find_next_siblings():
        if re.match('^h[1-6]$', sib.name or ''): return False
        if sib.name == 'pre' or sib.find('pre'): return True
    return False

def check_site(out:Path, soups:dict, root:Path, base:str, failed:set) -> tuple[list[str], list[str], dict]:
    "Images, links, anchors, show_doc blocks, raw directives and tracebacks of every rendered page (`soups`: their bodies);\
 what only follows from the pages in `failed` (their notebooks could not be processed) is counted in n['follow_on']."
    bad, warn, n = [], [], dict(images=0, links=0, anchors=0, show_doc=0, follow_on=0)
    ids = {p: {t['id'] for t in s.find_all(id=True)} for p, s in soups.items()}
    for p, main in soups.items():
        for img in main.find_all('img'):
            src = img.get('src', '')
            if src.startswith('data:'): continue
            n['images'] += 1
            t, _ = site_path(out, p, src, base)
            if t is None: bad.append(f"{p.name}: image {src} is not part of the site (it would not show offline)")
            elif not t.is_file(): bad.append(f"{p.name}: image {src} does not exist")
        for a in main.find_all('a', href=True):
            t, frag = site_path(out, p, a['href'], base)
            if t is None: continue
            n['links'] += 1
            if t in failed: n['follow_on'] += 1; continue
            if not t.is_file(): bad.append(f"{p.name}: link {a['href']} points at nothing in the site"); continue
            if frag and t.suffix == '.html':
                n['anchors'] += 1
                if frag not in ids.get(t, set()): warn.append(f"{p.name} links to {t.name}#{frag}")
        text = main.get_text('\n')
        for el in main.find_all(['pre', 'p', 'li', 'td']):  # a directive Quarto would not read: a line of code or prose starting with #|
            for line in el.get_text().splitlines():
                if re.match(r'\s*#\s*\|', line): bad.append(f"{p.name}: shows a raw directive: {line.strip()[:80]}")
        for pat, what in [(r'Traceback \(most recent call last\)', 'a traceback'), (r'\]\([^)\s]*\)\{[^}]*\}', 'unrendered Pandoc link attributes'),
                          (r'(?m)^:::', 'an unrendered Pandoc div (:::)')]:
            if re.search(pat, text): bad.append(f"{p.name}: shows {what}")
        for o in main.select('[data-mime-type="application/vnd.jupyter.stderr"]'):
            if re.search(r'\w+(Error|Exception)\b', o.get_text()): bad.append(f"{p.name}: shows an error output: {o.get_text().strip().splitlines()[-1][:100]}")
    # every public name of the package: its show_doc block (heading with nbdev's anchor) on its chapter's page
    modidx = root / 'ultra_nb/_modidx.py'
    if modidx.exists():
        ns, documented = {}, {}  # documented: {page: headings followed by a signature}
        exec(modidx.read_text(), ns)
        for mod, syms in ns['d']['syms'].items():
            exported = module_all(root / (mod.replace('.', '/') + '.py'))
            for qual, (link, _) in syms.items():
                name = qual[len(mod) + 1:]
                if '.' in name or name not in exported: continue  # methods are documented with their class; exporti: not exported
                page, _, frag = link.partition('#')
                t = out / page
                n['show_doc'] += 1
                if t in failed: n['follow_on'] += 1; continue
                if t not in soups: bad.append(f"{qual}: its chapter's page {page} was not rendered"); continue
                if t not in documented:
                    documented[t] = {h.get_text().strip() for h in soups[t].find_all(re.compile('^h[1-6]$')) if signature_after(h)}
                if name not in documented[t]:
                    bad.append(f"{qual}: no show_doc block on {page} (no heading {name} followed by its signature)")
                elif soups[t].find(id=frag) is None:
                    bad.append(f"{qual}: nbdev's doc link {link} names an anchor that {page} does not have")
    return bad, warn, n

def check_navs(out:Path, chapters:list, pages:dict, failed:set) -> tuple[list[str], int]:
    "The sidebar of every written page, as readers get it: exactly one link per chapter of nbs/sidebar.yml (`chapters`:\
 [(section, notebook)]), in order, each reaching that chapter's page; nothing else inside but plain section labels — no\
 heading (h1–h6), no anchor ¶. A problem every page shares (a template's) is said once, with how many pages have it.\
 Returns (problems, pages checked)."
    from bs4 import BeautifulSoup, SoupStrainer
    out = out.resolve()
    want = [(out / pages[nm]).resolve() for _, nm in chapters]
    found, written = {}, sorted(p for p in {(out / pg).resolve() for pg in pages.values()} if p.is_file())
    for page in written:
        navs = BeautifulSoup(page.read_text(), 'html.parser', parse_only=SoupStrainer('nav')).find_all('nav')
        for msg in nav_problems(out, page, navs, want, failed): found.setdefault(msg, []).append(page.relative_to(out).as_posix())
    bad = [f"{ps[0]}: {m}" if len(ps) == 1 else f"{m} (the navigation of {len(ps)} pages: {', '.join(ps[:3])}{', ...' * (len(ps) > 3)})"
           for m, ps in found.items()]
    return bad, len(written)

def nav_problems(out:Path, page:Path, navs:list, want:list, failed:set) -> list[str]:
    "What is wrong with one page's navigation (`navs`: its <nav> elements; `want`: the chapters' pages, in sidebar order)."
    out = out.resolve()
    if len(navs) != 1: return [f"has {len(navs)} navigation bars, expected one (the sidebar)"]
    nav, bad = navs[0], []
    for h in nav.find_all(HEADINGS):
        bad.append(f"the navigation holds a heading <{h.name}> ({h.get_text(' ', strip=True).rstrip('¶ ')[:60]}): the sidebar must hold only links")
    if nav.find('a', class_='anchor-link') or '¶' in nav.get_text(): bad.append("the navigation holds an anchor link ¶")
    links = nav.find_all('a')
    got = [site_path(out, page, a.get('href', ''), '')[0] for a in links]
    rel = lambda t: t.relative_to(out).as_posix() if t and t.is_relative_to(out) else str(t)
    if len(got) != len(want):
        bad.append(f"the navigation has {len(got)} links, expected one per chapter of nbs/sidebar.yml ({len(want)})")
    else:
        for i, (a, g, w) in enumerate(zip(links, got, want)):
            if g != w:
                bad.append(f"navigation link {i + 1} ({' '.join(a.get_text().split())[:40]}) goes to {rel(g)}, where nbs/sidebar.yml has {rel(w)}"); break
    for a, g in zip(links, got):
        if g is None or (not g.is_file() and g not in failed): bad.append(f"navigation link {a.get('href')} points at nothing in the site")
    return bad

def screenshots(out:Path, pages:list[str], images:Path) -> list[Path]:
    "Headless Chromium (the one `.ci/browser` installs) shows each page: its top, and the view at its first figure, stacked."
    import io
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which('chromium')
    for o in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1280,1000', '--hide-scrollbars'): opts.add_argument(o)
    driver, saved = webdriver.Chrome(service=Service(shutil.which('chromedriver')), options=opts), []
    try:
        for page in pages:
            driver.get((out / page).as_uri())
            shots = [Image.open(io.BytesIO(driver.get_screenshot_as_png()))]
            if driver.execute_script("const i = document.querySelector('main img'); if (!i) return false;"
                                     "window.scrollTo(0, i.getBoundingClientRect().top + window.scrollY - 220); return true;"):
                time.sleep(0.3)
                shots.append(Image.open(io.BytesIO(driver.get_screenshot_as_png())))
            im = Image.new('RGB', (shots[0].width, sum(s.height for s in shots) + 6 * (len(shots) - 1)), (120, 120, 120))
            for i, s in enumerate(shots): im.paste(s, (0, i * (shots[0].height + 6)))
            images.mkdir(parents=True, exist_ok=True)
            saved.append(images / f"docs_{Path(page).stem}.png"); im.save(saved[-1], optimize=True)
    finally: driver.quit()
    return saved

# --- main ------------------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog='bash .ci/docs', description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', type=Path, help="keep the site in this folder: a new or empty one, or a site built before (its pages are replaced)")
    ap.add_argument('--cache', type=Path, help="reuse processed notebooks kept here whose inputs are unchanged")
    ap.add_argument('--as-deploy', action='store_true', help="also execute the cells nbdev's deploy executes (slow)")
    ap.add_argument('--screenshot', nargs='*', default=[], metavar='PAGE',
                    help="save nbs/images/docs_<page>.png of these pages (e.g. api.html) with headless Chromium (`. .ci/browser`)")
    ap.add_argument('--strict-anchors', action='store_true',
                    help="fail (not warn) on an internal link that reaches its page but not the anchor it names")
    ap.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1), help='notebooks processed at once (default: 2, or 1 on one core)')
    a = ap.parse_args(argv)
    a.out, a.cache = (x.resolve() if x else None for x in (a.out, a.cache))  # relative to where it was called from
    if a.out and a.out.exists() and any(a.out.iterdir()) and not (a.out / 'site.css').exists():
        ap.error(f"--out {a.out} holds files that are not a site .ci/docs built; choose a new or empty folder")
    import nbdev, yaml
    from nbdev.doclinks import nbglob
    from fastcore.foundation import Config
    t0 = time.time()
    root = ROOT
    os.chdir(root)  # nbdev reads settings.ini from here
    cfg = Config(root, 'settings.ini')
    base = f"{cfg.get('doc_host', '').rstrip('/')}{cfg.get('doc_baseurl', '')}".rstrip('/') + '/'
    nbs_dir = root / 'nbs'
    bad = check_config(root)
    nbs = sorted(nbglob(nbs_dir, func=Path))  # the notebooks nbdev works on
    names = [str(p.relative_to(nbs_dir)) for p in nbs]
    side = sidebar_entries((yaml.safe_load((nbs_dir / 'sidebar.yml').read_text()) or {}).get('website', {}).get('sidebar', {}).get('contents', []))
    in_side = [nm for _, nm in side]
    bad += [f"nbs/sidebar.yml lists {nm}, which is not a notebook in nbs/" for nm in in_side if nm not in names]
    bad += [f"nbs/{nm} is not in nbs/sidebar.yml (no reader can reach its page)" for nm in names if nm not in in_side]
    tmp = Path(tempfile.mkdtemp(prefix='ultra_nb_docs_'))
    try:
        out = a.out or tmp / 'site'
        # the files next to the notebooks (images, css), as proc_nbs copies them
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob('*.html'): old.unlink()
        for f in nbs_dir.rglob('*'):
            rel = f.relative_to(nbs_dir)
            if f.is_file() and f.suffix != '.ipynb' and not any(x.startswith(('.', '_')) for x in rel.parts):
                (out / rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(f, out / rel)
        from nbdev.doclinks import _nbpath2html  # the page name nbdev gives a notebook
        pages = {nm: str(_nbpath2html(Path(nm))) for nm in names}
        body, bodies = renderer(out, pages)
        errors, cpus = process(root, nbs, tmp / '_proc', a.cache, a.as_deploy, a.workers,
                               done=lambda nb, dst: body(str(nb.relative_to(nbs_dir)), dst))  # rendered while the rest are processed
        bad += [f"nbs/{nb.relative_to(nbs_dir)}: nbdev's processing fails: {e}" for nb, e in errors.items() if e]
        soups = write_pages(out, [s for s in side if s[1] in pages], pages, bodies, cfg.get('title', cfg.get('lib_name', 'docs')))
        t_build = time.time() - t0
        failed = {out / pages[str(nb.relative_to(nbs_dir))] for nb, e in errors.items() if e}
        bad += [f"nbs/sidebar.yml: {nm} has no page" for _, nm in side if nm in pages and not (out / pages[nm]).exists() and out / pages[nm] not in failed]
        site_bad, anchors, n = check_site(out, soups, root, base, failed)
        bad += site_bad
        nav_bad, n['navs'] = check_navs(out, [s for s in side if s[1] in pages], pages, failed)
        bad += nav_bad
        if a.strict_anchors: bad += [f"{w}, an anchor it does not have" for w in anchors]
        heads = [nm for nm, (t, _, _) in bodies.items() if title_heading(t)]
        mixed = {nm: mixed_cells(nb) for nm, nb in zip(names, nbs)}
        n_mixed = sum(len(v) for v in mixed.values())
        took = time.time() - t0
        slow = sorted(cpus.items(), key=lambda o: -o[1])[:3]
        print(f"docs: {len(nbs)} notebooks processed by nbdev {nbdev.__version__} ({len(cpus)} now, the rest from the cache; most CPU: "
              f"{', '.join(f'{nb.name} {c:.1f} s' for nb, c in slow) or '-'}) and rendered to {len(soups)} pages in {t_build:.0f} s; "
              f"checked {n['images']} images, {n['links']} internal links ({n['anchors']} anchors), {n['show_doc']} show_doc blocks, "
              f"the navigation of {n['navs']} pages; "
              f"{took:.0f} s in all")
        if anchors and not a.strict_anchors:
            print(f"docs: warning: {len(anchors)} links reach their page but not an anchor on it (a method or private name "
                  "without its own show_doc; the reader lands at the top of the page): " + '; '.join(anchors))
        if heads:
            print(f"docs: warning: {len(heads)} chapter titles are written as headings (the first markdown cell begins `# # `; "
                  "the pages here show the title without the #; delete the second #): " + ', '.join(f"nbs/{nm}" for nm in heads))
        if n_mixed and not a.as_deploy:
            print(f"docs: warning: {n_mixed} cells in {sum(1 for v in mixed.values() if v)} notebooks mix imports with other code; "
                  "nbdev's Quarto build executes them (out of order, from the repository root) and stops at the first that fails. "
                  "Put their imports in a cell of their own (nbdev FAQ), or run `bash .ci/docs --as-deploy` to see which fail (cell indexes from 0): "
                  + '; '.join(f"{nm} cells {v}" for nm, v in mixed.items() if v))
        for shot in screenshots(out, a.screenshot, root / 'nbs/images') if a.screenshot else []: print(f"docs: saved {shot.relative_to(root)}")
        if a.out: print(f"docs: the site is in {out}; open {out / 'index.html'} in a browser")
        if bad:
            print(f"docs: {len(bad)} problem{'s' * (len(bad) != 1)}:", *(f"  - {b}" for b in bad), sep='\n')
            if n['follow_on']: print(f"docs: and {n['follow_on']} links and show_doc blocks that only lack the pages nbdev could not process")
            return 1
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == '__main__': sys.exit(main())
