from django.urls import path

from dealgate.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.insights, name="insights"),
    path("forecast/", views.forecast_page, name="forecast"),
    path("review/", views.review_page, name="review"),
    path("forecast/adopt/<int:stage_id>/", views.adopt, name="adopt"),
    path("plotly.min.js", views.plotly_js, name="plotly_js"),
]
