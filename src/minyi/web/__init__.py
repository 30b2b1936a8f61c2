"""Server-rendered pages: the citizen portal at `/` and the staff workbench at `/staff/`.

Pages are thin: they call the same services as the JSON API, so a rule lives in one place.
Every asset is a vendored file under `static/` (nothing from a CDN).
"""
