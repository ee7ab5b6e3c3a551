"""The benchmarks' numbers come from the code users run: images through `bench/selection.py` (the script the presets come
from) and through the front door (`ULTra(...).maps(image).segment(...)`) give identical labels and identical scores."""
import sys
from pathlib import Path
import numpy as np, pytest, torch
from ultra_nb.material import shared_dir
from ultra_nb.models import load_timm

ROOT = Path(__file__).resolve().parents[1]
SH = shared_dir()
pytestmark = pytest.mark.skipif(SH is None, reason="needs ../shared (the real DeiT-tiny weights and VOC-14): see shared/README.md")

@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    sys.path.insert(0, str(ROOT / 'bench'))
    import selection
    selection.OUT = tmp_path_factory.mktemp('bench_out')  # the bench's map cache, away from bench/out
    from ultra_nb.evaluate import voc
    model = load_timm('deit_tiny_patch16_224', SH / 'models/deit_tiny_patch16_224.pth')
    yield selection, model, voc(SH / 'data/voc2012-val-14')
    sys.path.remove(str(ROOT / 'bench'))

def test_bench_equals_front_door(setup):
    bench, model, ds = setup
    from ultra_nb import ULTra
    from ultra_nb.methods import segment
    sel, _ = bench.load_selection()
    idx, zeta = [0, 3], sel['zeta']['ULTra_S']
    gts = [ds.label(i) for i in idx]
    mats = [bench.Material(bench.grid_map(model, ds, i, sel['block'], 'sum')) for i in idx]  # the bench's maps and material
    u = ULTra(model, block=sel['block'], verbose=False)
    front = [u.maps(ds.image(i)) for i in idx]  # the front door reads the same files
    for m, mat in zip(front, mats): torch.testing.assert_close(m.grid_maps[0], mat.maps, rtol=1e-5, atol=1e-7)
    for cut, bench_res in ((dict(zeta=zeta), bench.run(ds, idx, mats, gts, 'ULTra_S', zeta)),
                           (dict(k=5), bench.run(ds, idx, mats, gts, 'ULTra_S', ks=[5, 5]))):
        for m, mat, g, r in zip(front, mats, gts, bench_res):
            seg = m.segment(**cut)
            np.testing.assert_array_equal(seg.labels_at(0, g.shape).numpy(), segment('ULTra_S', mat, g.shape, **cut))
            assert seg.score(g, n_classes=len(ds.classes), ignore=ds.ignore)['miou_each'][0] == r['miou']
            assert seg.n_segments[0] == r['n']

def test_bench_baselines_are_the_registry(setup):
    bench, model, ds = setup
    from ultra_nb.inputs import load_image
    from ultra_nb.methods import image_material, segment, image_score
    sel, k_sel = bench.load_selection()
    i, g = 0, ds.label(0)
    mat = image_material(model, load_image(ds.image(i)))
    for name, cut in (('hier_features', dict(zeta=sel['zeta']['hier_features'])), ('kmeans_features', dict(k=k_sel['kmeans_features'])),
                      ('spectral_features', dict(k=k_sel['spectral_features'])), ('crate_heads', {})):
        r = bench.run(ds, [i], [bench.vectors(model, ds, i)], [g], name, cut.get('zeta'), None if 'k' not in cut else [cut['k']])[0]
        ref = image_score(segment(name, mat, g.shape, **cut), g, len(ds.classes), ds.ignore)
        assert r['miou'] == ref['miou'] and r['n'] == ref['n'], name
        np.testing.assert_array_equal(r['counts'], ref['counts'])

def test_cli_eval_of_a_baseline_is_the_registry(setup, tmp_path):
    "`ultra-nb eval --method kmeans_features --k 3` scores exactly what the registry gives on the same images."
    import os, shutil, subprocess
    from ultra_nb.inputs import load_image
    from ultra_nb.methods import image_material, segment, image_score, pooled_miou
    _, model, ds = setup
    ids = [Path(ds.items[i][0]).stem for i in (0, 3)]
    root = tmp_path / 'voc'
    for sub, ext in (('JPEGImages', 'jpg'), ('SegmentationClass', 'png')):
        (root / sub).mkdir(parents=True)
        for i in ids: shutil.copy(SH / f'data/voc2012-val-14/{sub}/{i}.{ext}', root / sub)
    (root / 'val.txt').write_text('\n'.join(ids))
    r = subprocess.run(['ultra-nb', 'eval', root, '--dataset', 'voc', '--model', 'deit_tiny_patch16_224', '--checkpoint',
                        SH / 'models/deit_tiny_patch16_224.pth', '--method', 'kmeans_features', '--k', '3', '--out', tmp_path / 'out'],
                       capture_output=True, text=True, env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    assert r.returncode == 0, r.stderr
    row = (tmp_path / 'out/metrics.csv').read_text().splitlines()[1].split(',')
    recs = [image_score(segment('kmeans_features', image_material(model, load_image(ds.image(i))), ds.label(i).shape, k=3),
                        ds.label(i), len(ds.classes), ds.ignore) for i in (0, 3)]
    assert 'kmeans_features' in row and float(row[-2]) == round(100 * pooled_miou(np.stack([x['counts'] for x in recs]).sum(0)), 2)
