"""`cdshooks simulate`: every hook over a cohort of patient records, in process, without a server.

Modules: `cohort` (reading FHIR Bundles and bulk-export ndjson into one record per patient), `drafts` (the
imaging orders the order hooks are run with), `run` (the simulation: the service's own pipeline with the knowledge
loaded from a directory), `compare` (what a knowledge change adds and removes), `render` (text and HTML), and
`command` (the click command).
"""
