"""Plumbing shared by every Canopy app: the application error type and the REST API's
conventions (error body, pagination, schema). It knows no domain and imports no app."""
