"""`opendata serve`: the CKAN Action API (actions), its search (index written at build time,
search at query time), the OpenAPI description and the HTTP server."""
