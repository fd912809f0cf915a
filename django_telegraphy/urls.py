"""URLs of django_telegraphy: include them to let telegraphy.js renew its
token, e.g. `path("telegraphy/", include("django_telegraphy.urls"))`."""

from django.urls import path

from . import views

app_name = "telegraphy"

urlpatterns = [
    path("token/", views.token, name="token"),
]
