"""The read-only JSON API at /api/v1/ (Django REST framework): the published trials with the list's filters, one
trial, the mechanisms, and its OpenAPI 3 schema (drf-spectacular).

- `queries.py`: the reads (a page of trials as the CSV's columns, with their sites, outcomes and sources).
- `filtering.py`: django-filter's DRF backend over the list's own FilterSet, its 400 and its schema parameters.
- `serializers.py`: the JSON shapes (and so the schema's).
- `throttling.py`: the rate limit per client address.
- `views.py`, `urls.py`: thin views, routed from config/urls.py.
"""
