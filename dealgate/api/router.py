"""The REST API (django-ninja). Endpoints call the same services as the UI and CLI."""

from ninja import NinjaAPI

api = NinjaAPI(title="Dealgate API", version="1", urls_namespace="api")
