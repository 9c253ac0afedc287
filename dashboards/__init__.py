"""The operators' queue dashboard, mounted in the API at /dashboard/ (server-rendered pages)."""
