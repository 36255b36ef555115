"""Releases: what changed (diff), which version that makes (versioning), the archive kept in
the site (archive) and `opendata release` itself (release)."""
