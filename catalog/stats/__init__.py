"""`opendata stats`: downloads counted from web-server access logs, published as a dataset."""
