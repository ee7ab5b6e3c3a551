"`ultra-nb eval` under torchrun: two CPU ranks (gloo) give exactly the metrics of one process."
import os, shutil, subprocess, sys
from pathlib import Path

def voc_tree(shared, root, ids):
    src = shared / 'data/voc2012-val-14'
    for sub in ('JPEGImages', 'SegmentationClass'): (root / sub).mkdir(parents=True)
    for i in ids:
        shutil.copy(src / f'JPEGImages/{i}.jpg', root / 'JPEGImages'); shutil.copy(src / f'SegmentationClass/{i}.png', root / 'SegmentationClass')
    (root / 'val.txt').write_text('\n'.join(ids))
    return root

def test_torchrun_two_ranks_equal_one_process(shared, tmp_path):
    root = voc_tree(shared, tmp_path / 'voc', ['vainf_0020', 'vainf_0023', 'vainf_0060'])
    args = ['eval', str(root), '--dataset', 'voc', '--model', 'deit_tiny_patch16_224', '--checkpoint',
            str(shared / 'models/deit_tiny_patch16_224.pth'), '--k', '3', '--out']
    # one thread in both runs (torchrun's default), so every map is computed by the same kernels; the ranks share a fresh map cache
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'ULTRA_NB_CACHE': str(tmp_path / 'cache')}
    one = subprocess.run([sys.executable, '-m', 'ultra_nb.cli', *args, str(tmp_path / 'one'), '--no-cache'],
                         capture_output=True, text=True, env=env)
    assert one.returncode == 0, one.stderr
    torchrun = Path(sys.executable).with_name('torchrun')
    two = subprocess.run([str(torchrun), '--standalone', '--nproc_per_node=2', '-m', 'ultra_nb.cli', *args, str(tmp_path / 'two')],
                         capture_output=True, text=True, env=env, timeout=600)
    assert two.returncode == 0, two.stderr
    a, b = (tmp_path / 'one/metrics.csv').read_text(), (tmp_path / 'two/metrics.csv').read_text()
    assert a == b and '| voc | 3 |' in (tmp_path / 'two/metrics.md').read_text()
    assert len(list((tmp_path / 'cache').rglob('*.pt'))) == 3 and not list((tmp_path / 'cache').rglob('*.tmp'))
