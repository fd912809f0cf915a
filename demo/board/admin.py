from django.contrib import admin

from .models import Item


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("title", "room", "created")
    list_filter = ("room",)
    search_fields = ("title",)
