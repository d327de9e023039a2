"""intermamba: text to two-person interaction motion (InterMamba, adaptive spatio-temporal Mamba).

The public API is small:

    import intermamba
    cfg = intermamba.load_config("demo")
    model = intermamba.build_model(cfg)                       # the denoiser
    pipe = intermamba.InterMambaPipeline.from_pretrained()    # the shipped demo model
    result = pipe.generate(["two people shake hands"], frames=120)

Heavy submodules are imported on first use so that `import intermamba` stays fast.
"""

from .config import Config, ConfigError, load_config

__version__ = "0.1.0"

__all__ = ["Config", "ConfigError", "load_config", "build_model", "InterMambaPipeline", "__version__"]


def build_model(config):
    """Build the InterMamba denoiser described by `config` (a Config, a config name or a YAML path)."""
    from .model import build_model as _build

    return _build(config if isinstance(config, Config) else load_config(config))


def __getattr__(name):
    if name == "InterMambaPipeline":
        from .pipeline import InterMambaPipeline

        return InterMambaPipeline
    raise AttributeError(f"module 'intermamba' has no attribute {name!r}")
