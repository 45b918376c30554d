"""lavoro-debole: the data warehouse of the 'Il lavoro debole' network (Province of Lodi)."""

__version__ = "0.1.0"
