"""The release stage: its assets (`assets.py`) and the checks that gate them (`checks.py`)."""
