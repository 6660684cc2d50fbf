"""The errors seedscope raises for bad input.

Each one carries a message that names what is wrong and what to do about it, so that a
Snakemake run stops before any job with a line a person can act on.
"""


class SeedscopeError(Exception):
    """Base class of every error seedscope raises on purpose."""


class ConfigError(SeedscopeError):
    """A config value is missing, of the wrong type, or not one of the allowed values."""


class ModelNotFoundError(SeedscopeError):
    """Model weights are neither a local folder nor available from the Hugging Face hub/cache."""


class ShardError(SeedscopeError):
    """An image shard is missing, incomplete, or does not match its manifest."""


class DataError(SeedscopeError):
    """An input data file (prompts, images, downloads) is missing or fails its checksum."""


class FeatureError(SeedscopeError):
    """A feature table or reference statistics file is missing, corrupt, or does not match."""


def error_line(err: BaseException) -> str:
    """``"OSError: <first line of its message>"``: how a message of ours quotes the error that
    caused it (library errors often run to many lines)."""
    first = str(err).partition("\n")[0]
    return f"{type(err).__name__}: {first}"
