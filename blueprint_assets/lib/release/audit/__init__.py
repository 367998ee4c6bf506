"""The privacy audit: its evidence, its report (Markdown, HTML) and how it is drawn."""
