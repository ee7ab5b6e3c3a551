"Packaging and documentation invariants that the notebooks cannot check themselves."
import configparser, json, re, subprocess, sys
from conftest import ROOT
import ultra_nb
from ultra_nb.presets import preset

def settings(): 
    c = configparser.ConfigParser(); c.read(ROOT / 'settings.ini'); return c['DEFAULT']

def readme(): return (ROOT / 'README.md').read_text()

def test_version_matches_settings(): assert ultra_nb.__version__ == settings()['version']

def test_ranges_not_pins():
    "setup.py declares ranges; only the install command pins the torch/torchvision pair."
    reqs = settings()['requirements'].split()
    assert not any('==' in r for r in reqs) and any(r.startswith('torch>=') for r in reqs)

def test_readme_install_is_ci_install():
    "The README's install lines are the ones .ci/install runs, and its test command is what CI runs."
    ci = (ROOT / '.ci/install').read_text()
    for cmd in ['pip install torch==2.14.1 torchvision==0.29.1', 'pip install -e ".[dev]"', 'python3 -m venv .venv']:
        assert cmd in readme() and cmd in ci, cmd
    assert 'bash .ci/run' in readme() and 'bash .ci/example' in readme()

def test_readme_quickstart_in_step_with_index():
    nb = json.loads((ROOT / 'nbs/index.ipynb').read_text())
    code = [''.join(c['source']).strip() for c in nb['cells'] if c['cell_type'] == 'code' and not ''.join(c['source']).startswith('#|')]
    blocks = [b.strip() for b in re.findall(r'```python\n(.*?)```', readme(), re.S)]
    assert code[:2] == blocks[:2], (code[:2], blocks[:2])  # the imports, in a cell of their own (nbdev's deploy runs import cells), then the quickstart

def test_readme_quickstart_runs():
    code = ''.join(re.findall(r'```python\n(.*?)```', readme(), re.S)[:2])
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert 'Maps(1 image(s), 16 tokens on a 4x4 grid; VisionTransformer, block 1, sum' in out
    assert 'Segmentation(1 image(s), segments [' in out and 'sum, k 3)' in out

def _real(code, shared, tmp_path):
    "A README block with the hub names and user files swapped for the real material in ../shared."
    post = tmp_path / 'post.txt'
    post.write_text("I adopted a shy rescue cat last month. She hid under the bed for a week; now she sleeps on my desk while I work.")
    swaps = {"load_timm('deit_tiny_patch16_224')": f"load_timm('deit_tiny_patch16_224', '{shared}/models/deit_tiny_patch16_224.pth')",
             "'cat.jpg'": f"'{shared}/data/voc2012-val-14/JPEGImages/vainf_0023.jpg'",
             "load_causal_lm('HuggingFaceTB/SmolLM2-135M-Instruct')": f"load_causal_lm('{shared}/models', gguf_file='SmolLM2-135M-Instruct.Q4_1.gguf')",
             "open('post.txt')": f"open('{post}')"}
    for a, b in swaps.items(): code = code.replace(a, b)
    return "import matplotlib; matplotlib.use('Agg')\n" + code

def test_readme_real_quickstarts_run(shared, tmp_path):
    "The README's image and summary examples, four lines each, run with the real DeiT-tiny and SmolLM2 files."
    image, text = re.findall(r'```python\n(.*?)```', readme(), re.S)[2:4]
    assert len(image.strip().splitlines()) <= 4 and len(text.strip().splitlines()) <= 4
    code = _real(image, shared, tmp_path) + "print(maps.grid_maps.shape, seg.n_segments)\n"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert 'torch.Size([1, 196, 14, 14])' in out and 'preset' in out
    code = _real(text, shared, tmp_path) + "print(e.top(3), e.block, e.sinks)\n"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert f" {preset('text').block} ()" in out

def test_optional_dependencies_stay_optional():
    "Importing the package must not pull in open_clip or transformers (they are extras)."
    code = "import sys, ultra_nb.hooks, ultra_nb.inputs, ultra_nb.models, ultra_nb.maps; print(sorted(m for m in ('open_clip', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]'

def test_notebooks_are_chapters():
    "Every notebook starts with a title and a one-line summary; library notebooks name their module."
    for p in sorted((ROOT / 'nbs').glob('*.ipynb')):
        cells = json.loads(p.read_text())['cells']
        md = next(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
        assert md.startswith('# ') and '\n> ' in md, p.name
        if p.name != 'index.ipynb': assert '#| default_exp' in ''.join(cells[0]['source']), p.name

def test_docs_config_valid_and_sidebar_lists_every_chapter():
    "Quarto cannot run here: check its files parse, and that the hand-kept sidebar names every notebook (and nothing else)."
    import yaml
    for p in ('_quarto.yml', 'nbs/_quarto.yml', 'nbs/nbdev.yml', 'nbs/sidebar.yml', '.github/workflows/test.yaml', '.github/workflows/deploy.yaml'):
        assert isinstance(yaml.safe_load((ROOT / p).read_text()), dict), p
    side = yaml.safe_load((ROOT / 'nbs/sidebar.yml').read_text())['website']['sidebar']['contents']
    listed = [e for e in side if isinstance(e, str)] + [c for e in side if isinstance(e, dict) for c in e['contents']]
    assert sorted(listed) == sorted(p.name for p in (ROOT / 'nbs').glob('*.ipynb'))
    assert settings()['custom_sidebar'] == 'True'

def test_chapters_show_their_figures():
    "Read without a kernel (GitHub, the docs), every chapter that draws figures shows one saved in nbs/images."
    for p in sorted((ROOT / 'nbs').glob('*.ipynb')):
        cells = json.loads(p.read_text())['cells']
        code = ''.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code')
        md = ''.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
        if any(k in code for k in ('.show(', 'plt.', 'figure(', 'imshow')):
            imgs = re.findall(r'\]\((images/[^)]+)\)', md)
            assert imgs, f"{p.name} draws figures but shows none saved in nbs/images"
            for i in imgs: assert (ROOT / 'nbs' / i).exists(), f"{p.name}: {i} missing"

def test_readme_objects_block_runs(shared):
    "The README's object block, as written, on the real DeiT-tiny and a real Weizmann horse photo with its mask."
    code = re.findall(r'```python\n(.*?)```', readme(), re.S)[4]
    assert "m.select(at=(120, 200))" in code and "m.foreground().score(mask)" in code
    horse = shared / 'data/weizmann-horse'
    setup = (f"import matplotlib; matplotlib.use('Agg')\nfrom ultra_nb.models import load_timm\n"
             f"model = load_timm('deit_tiny_patch16_224', '{shared}/models/deit_tiny_patch16_224.pth')\n"
             f"mask = '{horse}/masks/horse002.png'\n")
    code = setup + code.replace("'horse.jpg'", f"'{horse}/images/horse002.jpg'") + "print(sorted(m.foreground().score(mask)))\n"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'iou'" in out.stdout and "'fbeta'" in out.stdout
