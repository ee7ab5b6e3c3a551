"The installed `ultra-nb` command, end to end, as a user runs it."
import os, shutil, subprocess
from pathlib import Path
import numpy as np
from PIL import Image

def ultra_nb(*args, **env):
    return subprocess.run(['ultra-nb', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, 'HF_HUB_OFFLINE': '1', **env})

def test_segment_real_image(shared, tmp_path):
    img = shared / 'data/voc2012-val-14/JPEGImages/vainf_0023.jpg'
    r = ultra_nb('segment', img, '--model', 'deit_tiny_patch16_224', '--zeta', '0.3', '--out', tmp_path,
                 ULTRA_NB_WEIGHTS=shared / 'models')
    assert r.returncode == 0, r.stderr
    seg = np.array(Image.open(tmp_path / 'vainf_0023_segmentation.png'))
    assert seg.shape == (513, 513) and len(np.unique(seg)) > 1
    assert (tmp_path / 'vainf_0023_overlay.png').stat().st_size > 10_000
    assert np.load(tmp_path / 'vainf_0023_maps.npz')['maps'].shape == (196, 14, 14)

def test_eval_small_voc_tree(shared, tmp_path):
    src, root = shared / 'data/voc2012-val-14', tmp_path / 'voc'
    for sub in ('JPEGImages', 'SegmentationClass'): (root / sub).mkdir(parents=True)
    ids = ['vainf_0020', 'vainf_0060']
    for i in ids:
        shutil.copy(src / f'JPEGImages/{i}.jpg', root / 'JPEGImages'); shutil.copy(src / f'SegmentationClass/{i}.png', root / 'SegmentationClass')
    (root / 'val.txt').write_text('\n'.join(ids))
    r = ultra_nb('eval', root, '--dataset', 'voc', '--model', 'deit_tiny_patch16_224', '--checkpoint',
                 shared / 'models/deit_tiny_patch16_224.pth', '--k', '3', '--out', tmp_path / 'm')
    assert r.returncode == 0, r.stderr
    md = (tmp_path / 'm/metrics.md').read_text()
    assert '| voc | 2 |' in md and 'per-image' in md and 'dataset' in md

def test_default_model_without_weights_says_what_to_pass(tmp_path):
    r = ultra_nb('segment', '--out', tmp_path, ULTRA_NB_WEIGHTS=tmp_path)
    assert r.returncode == 2 and r.stderr.count('\n') == 1
    assert 'no weights for vit_small_patch16_224.dino' in r.stderr and '--checkpoint' in r.stderr and 'Traceback' not in r.stderr

def test_bad_flag_one_line():
    r = ultra_nb('segment', '--zeta', 'abc')
    assert r.returncode == 2 and r.stderr.startswith('ultra-nb: error:') and r.stderr.count('\n') == 1
