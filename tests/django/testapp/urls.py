from django.urls import include, path

urlpatterns = [
    path("telegraphy/", include("django_telegraphy.urls")),
]
