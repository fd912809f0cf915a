"""No HTTP views: the bench only opens WebSockets."""

urlpatterns = []
