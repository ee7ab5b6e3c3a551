"""ULTra maps of every patch token of a real image with DeiT-tiny, written as a Fig. 2-style figure.

    python examples/quickstart.py [IMAGE] [--out token_maps.png]

Weights: ../shared/models/deit_tiny_patch16_224.pth when present, else timm's hub download.
Image: IMAGE, else a VOC image from ../shared, else scikit-image's `chelsea` cat.
"""
import argparse, time
import torch
from ultra_nb.material import shared_dir
from ultra_nb.models import load_timm
from ultra_nb.inputs import load_image
from ultra_nb.maps import ultra_maps, denormalize, show_token_maps

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('image', nargs='?')
    p.add_argument('--out', default='token_maps.png')
    a = p.parse_args()
    sh = shared_dir()
    ckpt = sh / 'models/deit_tiny_patch16_224.pth' if sh else None
    image = a.image or (sh / 'data/voc2012-val-14/JPEGImages/vainf_0000.jpg' if sh else None)
    if image is None:
        import skimage.data, PIL.Image, tempfile
        image = tempfile.mktemp(suffix='.png'); PIL.Image.fromarray(skimage.data.chelsea()).save(image)
    model = load_timm('deit_tiny_patch16_224', ckpt)
    x = load_image(image)
    t = time.perf_counter()
    maps = ultra_maps(model, x)[0]
    print(f"{maps.shape[0]} token maps of {image} in {time.perf_counter() - t:.1f} s")
    chosen = [45, 105, 143, 179]
    import matplotlib; matplotlib.use('Agg')
    show_token_maps(denormalize(x[0]), maps[chosen], chosen, (14, 14)).savefig(a.out, dpi=90)
    print(f"wrote {a.out}")

if __name__ == '__main__': main()
