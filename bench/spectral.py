"""Spectral clustering (normalized cut, Ng-Jordan-Weiss) of the patch-feature affinity graph: the classical training-free
baseline that MaskCut and Deep Spectral Methods build on. Bench-only; uses the package's k-means."""
import numpy as np, torch, torch.nn.functional as F
from ultra_nb.cluster import kmeans

def affinity(X:torch.Tensor) -> torch.Tensor:
    "(P, P) cosine affinity of the rows of X (P, d), clipped at 0."
    Xn = F.normalize(X.double(), dim=-1)
    return (Xn @ Xn.T).clamp_min(0)

def spectrum(X:torch.Tensor):
    "Eigenvalues (ascending) of the normalized Laplacian I - D^-1/2 A D^-1/2 and their eigenvectors (columns)."
    A = affinity(X)
    d = A.sum(1).clamp_min(1e-12).rsqrt()
    M = d[:, None] * A * d[None]
    ev, U = torch.linalg.eigh(M)  # ascending eigenvalues of M = descending of the Laplacian
    return (1 - ev).flip(0), U.flip(1)

def eigengap_k(vals:torch.Tensor, k_max:int=15) -> int:
    "The number of clusters at the largest gap between consecutive Laplacian eigenvalues (k in 2..k_max)."
    gaps = (vals[1:k_max + 1] - vals[:k_max]).numpy()
    return int(np.argmax(gaps[1:]) + 2)

def spectral_segments(X:torch.Tensor, # (P, d) patch features of one image
                      k:int|None=None, # clusters; None picks k by the eigengap
                      seed:int=0) -> np.ndarray: # (P,) cluster ids
    "Normalized-cut spectral clustering: the k leading eigenvectors, rows unit-normalized, k-means on the rows."
    vals, U = spectrum(X)
    k = eigengap_k(vals) if k is None else k
    V = F.normalize(U[:, :k], dim=1)
    return kmeans(V, k, seed=seed)
