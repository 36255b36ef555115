"""The static site: index and dataset pages, the changes page, charts, templates and assets."""
