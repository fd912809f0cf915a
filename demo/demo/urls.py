from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("telegraphy/", include("django_telegraphy.urls")),
    path("", include("board.urls")),
]
