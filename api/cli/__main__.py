"""`python -m api.cli`: the `wayfinder` command line."""
from api.cli import app

app()
