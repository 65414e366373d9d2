import json


class UnicodeJSONEncoder(json.JSONEncoder):
    """Stores Chinese as itself rather than \\uXXXX escapes, so text lookups on SQLite's JSON
    columns (which has no JSON containment) can still find "摄影" in a list of tags."""

    def __init__(self, *args, **kwargs):
        kwargs["ensure_ascii"] = False
        super().__init__(*args, **kwargs)
