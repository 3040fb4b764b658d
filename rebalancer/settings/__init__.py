"""Settings package: ``base`` plus one module per environment.

``DJANGO_SETTINGS_MODULE`` picks the module; ``manage.py``, wsgi and Celery default
to ``rebalancer.settings.dev`` unless ``DJANGO_ENV=production`` (then
``rebalancer.settings.production``).
"""
