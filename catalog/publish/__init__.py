"""Publishing a site's latest release: into a web root (webroot.py) or a CKAN (ckan.py)."""
