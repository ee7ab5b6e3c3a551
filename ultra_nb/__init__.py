__version__ = "0.1.0"

def __getattr__(name):
    "The front door, `from ultra_nb import ULTra, explain_summary`, imported on first use so `import ultra_nb` stays light."
    if name in ('ULTra', 'explain_summary', 'Maps', 'Segmentation', 'SummaryExplanation'):
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'ultra_nb' has no attribute {name!r}")
