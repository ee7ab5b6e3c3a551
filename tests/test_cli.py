"The installed `ultra-nb` command, end to end, as a user runs it."
import json, os, shutil, subprocess
from pathlib import Path
import numpy as np
from PIL import Image
from ultra_nb.presets import preset

def ultra_nb(*args, cwd=None, **env):
    return subprocess.run(['ultra-nb', *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, 'HF_HUB_OFFLINE': '1', **{k: str(v) for k, v in env.items()}})

def test_segment_real_image(shared, tmp_path):
    img = shared / 'data/voc2012-val-14/JPEGImages/vainf_0023.jpg'
    r = ultra_nb('segment', img, '--model', 'deit_tiny_patch16_224', '--zeta', '0.3', '--out', tmp_path,
                 ULTRA_NB_WEIGHTS=shared / 'models')
    assert r.returncode == 0, r.stderr
    seg = np.array(Image.open(tmp_path / 'vainf_0023_segmentation.png'))
    assert seg.shape == (513, 513) and len(np.unique(seg)) > 1
    assert (tmp_path / 'vainf_0023_overlay.png').stat().st_size > 10_000
    assert np.load(tmp_path / 'vainf_0023_maps.npz')['grid_maps'].shape == (1, 196, 14, 14)
    again = ultra_nb('segment', img, '--model', 'deit_tiny_patch16_224', '--out', tmp_path, ULTRA_NB_WEIGHTS=shared / 'models')
    assert again.returncode == 2 and 'exists' in again.stderr and '--overwrite' in again.stderr

def test_segment_default_splits_an_object_photo(shared, tmp_path):
    "No cut given: the horse photo (its CLS attention gathers) comes out as object / background, the street as many segments; as the api does."
    horse, street = shared / 'data/weizmann-horse/images/horse009.jpg', sorted((shared / 'data/camvid-val/images').glob('*.png'))[0]
    r = ultra_nb('segment', horse, street, '--model', 'deit_tiny_patch16_224', '--out', tmp_path, ULTRA_NB_WEIGHTS=shared / 'models')
    assert r.returncode == 0, r.stderr
    lines = {l.split(':')[0]: l for l in r.stdout.splitlines() if 'segments' in l}
    assert '2 segments (object / background' in lines[str(horse)] and 'object / background' not in lines[str(street)], r.stdout
    seg = np.array(Image.open(tmp_path / 'horse009_segmentation.png'))
    from ultra_nb import ULTra
    from ultra_nb.models import load_timm
    m = ULTra(load_timm('deit_tiny_patch16_224', shared / 'models/deit_tiny_patch16_224.pth'), verbose=False).maps(horse)
    assert (seg == m.segment().labels_at(0).numpy()).all() and set(np.unique(seg)) == {0, 1}
    assert len(np.unique(np.array(Image.open(tmp_path / f'{street.stem}_segmentation.png')))) > 5

def test_maps_real_image_uses_the_preset(shared, tmp_path):
    img = shared / 'data/voc2012-val-14/JPEGImages/vainf_0060.jpg'
    r = ultra_nb('maps', img, '--model', 'deit_tiny_patch16_224', '--checkpoint', shared / 'models/deit_tiny_patch16_224.pth', '--out', tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'preset' in r.stdout and 'block 7 of 12' in r.stdout  # says what it used
    z = np.load(tmp_path / 'vainf_0060_maps.npz')
    assert z['grid_maps'].shape == (1, 196, 14, 14) and json.loads(str(z['meta']))['settings']['block'] == 7
    w, h = Image.open(tmp_path / 'vainf_0060_maps.png').size
    assert w > 2 * h > 196  # four tokens' maps over the image (was a 196x196 mosaic with no image under it)
    assert sum(l.startswith('ultra-nb:') for l in r.stdout.splitlines()) == 1  # one settings line

def test_eval_small_voc_tree(shared, tmp_path):
    src, root = shared / 'data/voc2012-val-14', tmp_path / 'voc'
    for sub in ('JPEGImages', 'SegmentationClass'): (root / sub).mkdir(parents=True)
    ids = ['vainf_0020', 'vainf_0060']
    for i in ids:
        shutil.copy(src / f'JPEGImages/{i}.jpg', root / 'JPEGImages'); shutil.copy(src / f'SegmentationClass/{i}.png', root / 'SegmentationClass')
    (root / 'val.txt').write_text('\n'.join(ids))
    args = ('eval', root, '--dataset', 'voc', '--model', 'deit_tiny_patch16_224', '--checkpoint', shared / 'models/deit_tiny_patch16_224.pth',
            '--k', '3', '--out', tmp_path / 'm')
    r = ultra_nb(*args, ULTRA_NB_CACHE=tmp_path / 'cache')
    assert r.returncode == 0, r.stderr
    md = (tmp_path / 'm/metrics.md').read_text()
    assert '| voc | 2 |' in md and 'per-image' in md and 'dataset' in md
    assert any((tmp_path / 'cache').rglob('*.pt'))  # maps went to the cache
    again = ultra_nb(*args[:-6], '--checkpoint', tmp_path / 'voc/val.txt', *args[-4:], ULTRA_NB_CACHE=tmp_path / 'cache')
    assert again.returncode == 2 and 'metrics.csv exists' in again.stderr  # checked before the (unloadable) checkpoint is touched

def test_offline_hub_name_fails_fast_naming_the_flags(tmp_path):
    img = tmp_path / 'x.png'; Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    r = ultra_nb('segment', img, '--out', tmp_path / 'o', ULTRA_NB_WEIGHTS=tmp_path, HF_HUB_OFFLINE='0')
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr
    assert 'no weights for vit_small_patch16_224.dino' in r.stderr and '--checkpoint' in r.stderr and '--weights-dir' in r.stderr

def test_bad_arguments_one_line_before_any_weights(tmp_path):
    "Each is refused although --checkpoint names a file that is no checkpoint: the check came first (bench/cli_latency.py times them)."
    img = tmp_path / 'x.png'; Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    for args, msg in [(('segment', img, '--zeta', 'abc'), 'invalid float'), (('segment', img, '--zeta', '-1'), 'zeta must be a positive'),
                      (('segment', img, '--k', '10000', '--model', 'deit_tiny_patch16_224'), 'use k <= 196'),
                      (('maps', img, '--block', '99', '--model', 'deit_tiny_patch16_224'), 'out of range for a model with 12 blocks')]:
        r = ultra_nb(*args, '--checkpoint', img)
        assert r.returncode == 2 and r.stderr.startswith('ultra-nb: error:') and msg in r.stderr, (args, r.stderr)

def test_python_m_cli():
    r = subprocess.run(['python', '-m', 'ultra_nb.cli', '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'summary' in r.stdout and 'segment' in r.stdout

def test_summary_real_smollm(shared, tmp_path):
    from ultra_nb.llm import read_tldr
    post = min(read_tldr(shared / 'data/tldr/tldr_val_1945.csv')[:30], key=lambda p: len(p['context']))
    ctx = tmp_path / 'post.txt'; ctx.write_text(post['context'] + '\n<b>not bold</b>')
    args = ('summary', '--context', ctx, '--summary', post['summary'], '--model', shared / 'models',
            '--gguf', 'SmolLM2-135M-Instruct.Q4_1.gguf', '--out', tmp_path / 'o')
    r = ultra_nb(*args)
    assert r.returncode == 0, r.stderr
    assert f"block {preset('text').block} of 30" in r.stdout and 'top words:' in r.stdout
    html = (tmp_path / 'o/post.html').read_text()
    assert '&lt;b&gt;not' in html and '<b>not' not in html and 'linear-gradient' in html and 'Summary:' in html
    j = json.loads((tmp_path / 'o/post.json').read_text())
    assert j['block'] == preset('text').block and j['sinks'] == [] and len(j['top']) == 10 and all(any(c.isalnum() for c in w) for w, _ in j['top'])
    assert (tmp_path / 'o/post.png').stat().st_size > 5_000
    bad = ultra_nb(*args[:-2], '--block', '30', '--out', tmp_path / 'p')
    assert bad.returncode == 2 and 'block 30 is out of range for a model with 30 blocks' in bad.stderr
